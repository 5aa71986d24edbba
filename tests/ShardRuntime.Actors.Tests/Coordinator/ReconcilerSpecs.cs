using System.Net;
using ShardRuntime.Actors.Coordination.Reconciliation;
using ShardRuntime.Actors.Handlers;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Actors.Tests.Support;
using ShardRuntime.Runtime.Upgrade;
using ShardRuntime.Runtime.Sockets;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Tests.Coordinator;

/// <summary>
/// The coordinator's decisions (<see cref="Reconciler"/>), one example per decision and refusal, without an actor system.
/// Plans are compared as text (each step's ToString), in the order the executor runs them.
/// </summary>
public sealed class ReconcilerSpecs
{
    internal static readonly ListenerSettings Template =
        Specs.Settings("""t { endpoint = "127.0.0.1:0", handler = echo, shards = 1 }""").Listeners[0];

    private static readonly HandlerCatalog Catalog = HandlerCatalog.WithBuiltIns();

    internal static string? UnknownHandler(ListenerSettings listener) => Catalog.HandlerRefusal(listener);

    internal static ListenerSettings Listener(string name, int shards, int port = 0, string handler = "echo") =>
        Template with { Name = name, Shards = shards, EndPoint = new IPEndPoint(IPAddress.Loopback, port), Handler = handler };

    private static IPEndPoint At(int port) => new(IPAddress.Loopback, port);

    /// <summary>A running listener (incarnation 1) with accepting shards 0..n-1 bound on <paramref name="boundPort"/>.</summary>
    private static ObservedListener Running(ListenerSettings settings, int boundPort, params ObservedShard[] shards) =>
        new(new ListenerId(settings.Name, 1), settings, At(boundPort), settings.EffectiveShards,
            shards.Length > 0 ? shards : Enumerable.Range(0, settings.EffectiveShards).Select(i => new ObservedShard(i, 100 + i)).ToList());

    private static ObservedNode Node(params ObservedListener[] listeners) => ObservedNode.Empty with
    {
        Listeners = listeners,
        NextShardId = listeners.GroupBy(l => l.Id.Name).ToDictionary(g => g.Key, g => g.SelectMany(l => l.Shards).Select(s => s.ShardId + 1).DefaultIfEmpty(0).Max()),
        NextIncarnation = listeners.GroupBy(l => l.Id.Name).ToDictionary(g => g.Key, g => g.Max(l => l.Id.Incarnation) + 1),
    };

    private static SocketLabel Label(string listener, int port, int shard, long inode, int position = -1, bool pinned = false) =>
        new(listener, At(port), TransportProtocol.Tcp, shard, inode, position, pinned);

    private static InheritedGroup Group(bool reusePort, params SocketLabel[] labels) =>
        InheritedGroup.Of(labels, _ => reusePort).Single();

    private static Plan Planned(Decision decision) => Assert.IsType<Decision.Planned>(decision).Plan;

    private static string Refused(Decision decision) => Assert.IsType<Decision.Refused>(decision).Reason;

    private static Plan Plan(ObservedNode node, params ListenerSettings[] desired) => Planned(Reconciler.Plan(desired, node, UnknownHandler));

    private static string[] Steps(Plan plan) =>
        [.. plan.Acquire.Select(s => s.ToString()), .. plan.Commit.Select(s => s.ToString()), .. plan.Deferred.Select(s => $"deferred: {s}")];

    [Fact]
    public void A_new_listener_must_be_bound_then_started()
    {
        var plan = Plan(ObservedNode.Empty, Listener("a", 2));
        Assert.Equal(
            ["take handler echo for a@1", "bind 2 on 127.0.0.1:0/tcp for a@1", "start listener a@1", "start shards [0, 1] of a@1"],
            Steps(plan));
    }

    [Fact]
    public void A_listener_that_only_changes_its_shard_count_must_bind_more_sockets_on_its_bound_port()
    {
        var a = Listener("a", 2);
        var plan = Plan(Node(Running(a, 41000)), a with { Shards = 4 });
        Assert.Equal(["bind 2 on 127.0.0.1:41000/tcp for a@1", "desire 4 for a@1", "start shards [2, 3] of a@1"], Steps(plan));
    }

    [Fact]
    public void A_listener_scaled_down_must_retire_its_accepting_shards_with_the_highest_ids()
    {
        var a = Listener("a", 4);
        var node = Node(Running(a, 41000, new(0, 100), new(3, 103), new(5, 105, Retiring: true), new(6, 106), new(7, 107)));
        Assert.Equal(["desire 2 for a@1", "retire shards [7, 6] of a@1"], Steps(Plan(node, a with { Shards = 2 })));
    }

    [Fact]
    public void A_changed_listener_must_start_a_new_incarnation_on_the_same_port_before_the_old_one_retires()
    {
        var a = Listener("a", 2);
        var plan = Plan(Node(Running(a, 41000)), a with { Handler = "http-ok", Shards = 3 });
        Assert.Equal(
        [
            "take handler http-ok for a@2", "bind 3 on 127.0.0.1:41000/tcp for a@2", "start listener a@2", "start shards [2, 3, 4] of a@2",
            "retire listener a@1 with shards [1, 0]",
        ], Steps(plan));
    }

    [Fact]
    public void A_listener_moved_to_another_endpoint_must_bind_there()
    {
        var a = Listener("a", 1, port: 8080);
        var plan = Plan(Node(Running(a, 8080)), a with { EndPoint = At(8081) });
        Assert.Equal(
            ["take handler echo for a@2", "bind 1 on 127.0.0.1:8081/tcp for a@2", "start listener a@2", "start shards [1] of a@2", "retire listener a@1 with shards [0]"],
            Steps(plan));
    }

    [Fact]
    public void A_removed_listener_must_retire_after_every_new_listener_started()
    {
        var plan = Plan(Node(Running(Listener("a", 2, port: 8080), 8080)), Listener("b", 1, port: 8080));
        Assert.Equal(
            ["take handler echo for b@1", "bind 1 on 127.0.0.1:8080/tcp for b@1", "start listener b@1", "start shards [0] of b@1", "retire listener a@1 with shards [1, 0]"],
            Steps(plan));
    }

    [Fact]
    public void A_node_that_matches_its_desired_state_must_get_an_empty_plan()
    {
        var a = Listener("a", 2);
        Assert.True(Plan(Node(Running(a, 41000)), a).IsEmpty);
        Assert.Equal("nothing to do", Plan(Node(Running(a, 41000)), a).ToString());
    }

    [Fact]
    public void A_retired_listener_whose_shards_still_accept_must_see_them_retire()
    {
        var old = Running(Listener("a", 2), 41000) with { Retired = true };
        var current = Running(Listener("a", 1, handler: "http-ok"), 41000) with { Id = new ListenerId("a", 2) };
        var node = Node(old, current) with { Listeners = [old, current with { Shards = [new ObservedShard(2, 102)] }] };
        Assert.Equal(["retire shards [1, 0] of a@1"], Steps(Plan(node, current.Settings)));
    }


    [Fact]
    public void A_name_declared_twice_must_be_refused()
    {
        var decision = Reconciler.Plan([Listener("a", 1), Listener("b", 1), Listener("a", 2)], ObservedNode.Empty, UnknownHandler);
        Assert.Equal("listener 'a' is declared more than once", Refused(decision));
    }

    [Fact]
    public void Two_listeners_on_one_fixed_endpoint_must_be_refused_but_two_on_port_0_must_not()
    {
        var decision = Reconciler.Plan([Listener("a", 1, 8080), Listener("b", 1, 8080)], ObservedNode.Empty, UnknownHandler);
        Assert.Equal("listeners 'a' and 'b' are both declared on 127.0.0.1:8080/tcp", Refused(decision));
        Assert.IsType<Decision.Planned>(Reconciler.Plan([Listener("a", 1), Listener("b", 1)], ObservedNode.Empty, UnknownHandler));
    }

    [Fact]
    public void Removing_a_listener_that_serves_a_pinned_socket_must_be_refused()
    {
        var node = Node(Running(Listener("a", 1, 8080), 8080, new ObservedShard(0, 4242, Pinned: true)));
        Assert.Equal(
            "listener 'a' serves socket inode 4242, which systemd holds and would keep listening with nobody accepting; " +
            "removing it needs `shardruntime upgrade` or a restart (and the socket taken out of the .socket unit)",
            Refused(Reconciler.Plan([], node, UnknownHandler)));
    }

    [Fact]
    public void Replacing_a_listener_that_serves_a_pinned_socket_must_be_refused_but_scaling_it_must_not()
    {
        var a = Listener("a", 1, 8080);
        var node = Node(Running(a, 8080, new ObservedShard(0, 4242, Pinned: true)));
        Assert.Equal(
            "listener 'a' serves socket inode 4242, which systemd holds and would keep listening with nobody accepting; " +
            "a change other than its shard count needs `shardruntime upgrade` (the successor adopts the socket) or a restart",
            Refused(Reconciler.Plan([a with { Backlog = a.Backlog + 1 }], node, UnknownHandler)));
        Assert.Equal(["bind 1 on 127.0.0.1:8080/tcp for a@1", "desire 2 for a@1", "start shards [1] of a@1"], Steps(Plan(node, a with { Shards = 2 })));
    }

    [Fact]
    public void An_unknown_handler_must_be_refused_with_the_catalogs_reason_unless_it_comes_from_an_assembly()
    {
        Assert.Equal(
            $"listener 'a': {Catalog.UnknownHandlerReason("ecko", datagram: false)}",
            Refused(Reconciler.Plan([Listener("a", 1, handler: "ecko")], ObservedNode.Empty, UnknownHandler)));
        Assert.StartsWith("listener 'a': unknown handler 'ecko'; did you mean 'echo'?", Refused(Reconciler.Plan([Listener("a", 1, handler: "ecko")], ObservedNode.Empty, UnknownHandler)));
        var fromAssembly = Listener("a", 1, handler: "mine") with { HandlerAssembly = "/opt/handlers/Mine.dll", HandlerType = "Mine.Factory" };
        Assert.Equal(["take handler mine for a@1", "bind 1 on 127.0.0.1:0/tcp for a@1", "start listener a@1", "start shards [0] of a@1"],
            Steps(Plan(ObservedNode.Empty, fromAssembly)));
    }

    [Fact]
    public void An_inherited_socket_without_SO_REUSEPORT_that_more_shards_would_join_must_be_refused()
    {
        var node = ObservedNode.Empty with { Inherited = [Group(reusePort: false, Label("http", 8080, 0, 77, pinned: true))] };
        Assert.Equal(
            "listener 'http': the inherited socket on 127.0.0.1:8080 has no SO_REUSEPORT, so no other socket can " +
            "join it for 2 shards; set ReusePort=yes in its systemd .socket unit, or shards = 1",
            Refused(Reconciler.Plan([Listener("http", 2, 8080)], node, UnknownHandler)));
        Assert.Equal(
            ["adopt 127.0.0.1:8080/tcp (inodes 77, no SO_REUSEPORT) for http@1", "take handler echo for http@1", "start listener http@1", "start shards [0=inode 77 pinned] of http@1"],
            Steps(Plan(node, Listener("http", 1, 8080))));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(257)]
    public void A_scale_to_a_bad_shard_count_must_be_refused_as_the_settings_refuse_it(int shards)
    {
        var node = Node(Running(Listener("a", 1), 41000));
        Assert.Equal(ListenerSettings.ShardCountRefusal("a", shards), Refused(Reconciler.Scale(node, "a", shards, new Dictionary<string, CoordinatorProtocol.ClusterOverride>())));
    }

    [Fact]
    public void A_scale_of_an_unknown_listener_or_one_the_cluster_scales_or_defines_must_be_refused()
    {
        var node = Node(Running(Listener("b", 1), 41000), Running(Listener("a", 1), 41001));
        var none = new Dictionary<string, CoordinatorProtocol.ClusterOverride>();
        Assert.Equal("no listener named 'x' (listeners: a, b)", Refused(Reconciler.Scale(node, "x", 2, none)));
        Assert.Equal(
            "listener 'a' is scaled by the cluster's desired state (3 shards on this node); change it there: `scale a 2 --cluster`",
            Refused(Reconciler.Scale(node, "a", 2, new Dictionary<string, CoordinatorProtocol.ClusterOverride> { ["a"] = new("a", true, 3, null, 1) })));
        Assert.Equal(
            "listener 'a' is defined by the cluster's desired state; change it there: `scale a 2 --cluster`",
            Refused(Reconciler.Scale(node, "a", 2, new Dictionary<string, CoordinatorProtocol.ClusterOverride> { ["a"] = new("a", true, null, Listener("a", 1), 1) })));
        Assert.Equal(
            ["bind 1 on 127.0.0.1:41001/tcp for a@1", "desire 2 for a@1", "start shards [1] of a@1"],
            Steps(Planned(Reconciler.Scale(node, "a", 2, new Dictionary<string, CoordinatorProtocol.ClusterOverride> { ["a"] = new("a", true, null, null, 4) }))));
    }


    [Fact]
    public void A_fixed_port_listener_must_adopt_the_inherited_group_on_its_endpoint_in_kernel_order_keeping_shard_ids_and_bind_the_rest()
    {
        var node = ObservedNode.Empty with
        {
            Inherited =
            [
                Group(true, Label("old-name", 8080, 3, 13, position: 1), Label("old-name", 8080, 5, 15, position: 0)),
                Group(true, Label("other", 9090, 0, 20, position: 0)),
            ],
        };
        var plan = Plan(node, Listener("http", 4, 8080));
        Assert.Equal(
        [
            "adopt 127.0.0.1:8080/tcp (inodes 15, 13) for http@1", "take handler echo for http@1", "bind 2 on 127.0.0.1:8080/tcp for http@1",
            "start listener http@1", "start shards [5=inode 15, 3=inode 13, 6, 7] of http@1",
        ], Steps(plan));
    }

    [Fact]
    public void A_port_0_listener_must_adopt_the_group_labelled_with_its_name_and_bind_more_on_that_port()
    {
        var node = ObservedNode.Empty with { Inherited = [Group(true, Label("b", 41234, 0, 30, 0)), Group(true, Label("a", 41235, 0, 31, 0))] };
        Assert.Equal(
        [
            "adopt 127.0.0.1:41235/tcp (inodes 31) for a@1", "take handler echo for a@1", "bind 1 on 127.0.0.1:41235/tcp for a@1",
            "start listener a@1", "start shards [0=inode 31, 1] of a@1",
        ], Steps(Plan(node, Listener("a", 2))));
    }

    [Fact]
    public void An_adopted_socket_must_not_keep_a_shard_id_its_listener_name_was_given_before()
    {
        // The cluster re-defines 'a' (whose shards 0..1 still run) on the endpoint of inherited sockets labelled 0 and 2.
        var node = Node(Running(Listener("a", 2), 41000)) with { Inherited = [Group(true, Label("a", 8080, 0, 50, 0), Label("a", 8080, 2, 52, 1))] };
        Assert.Equal(
        [
            "adopt 127.0.0.1:8080/tcp (inodes 50, 52) for a@2", "take handler echo for a@2", "start listener a@2",
            "start shards [2=inode 50, 3=inode 52] of a@2", "retire listener a@1 with shards [1, 0]",
        ], Steps(Plan(node, Listener("a", 2, 8080))));
    }

    [Fact]
    public void More_inherited_sockets_than_wanted_must_retire_the_highest_ids_but_never_a_pinned_one()
    {
        var node = ObservedNode.Empty with
        {
            Inherited = [Group(true, Label("http", 8080, 0, 60, 0), Label("http", 8080, 1, 61, 1), Label("http", 8080, 2, 62, 2, pinned: true))],
        };
        Assert.Equal(
        [
            "adopt 127.0.0.1:8080/tcp (inodes 60, 61, 62) for http@1", "take handler echo for http@1", "start listener http@1",
            "start shards [0=inode 60, 1=inode 61, 2=inode 62 pinned] of http@1", "retire shards [1] of http@1",
        ], Steps(Plan(node, Listener("http", 2, 8080))));
    }


    [Fact]
    public void While_taking_over_retirements_must_be_deferred_and_come_back_once_the_take_over_completed()
    {
        var inherited = ObservedNode.Empty with
        {
            Inherited = [Group(true, Label("http", 8080, 0, 60, 0), Label("http", 8080, 1, 61, 1), Label("http", 8080, 2, 62, 2))],
            PredecessorHolds = true,
        };
        var desired = Listener("http", 1, 8080);
        var plan = Plan(inherited, desired);
        Assert.Equal(
        [
            "adopt 127.0.0.1:8080/tcp (inodes 60, 61, 62) for http@1", "take handler echo for http@1", "start listener http@1",
            "start shards [0=inode 60, 1=inode 61, 2=inode 62] of http@1", "deferred: retire shards [2, 1] of http@1",
        ], Steps(plan));
        var model = new ReconcilerModel(inherited);
        Assert.True(model.Execute(plan));
        Assert.True(Plan(model.Node, desired).IsEmpty); // the deferred retirement waits
        model.OnPredecessorLetGo();
        Assert.Equal(["retire shards [2, 1] of http@1"], Steps(Plan(model.Node, desired)));
    }

    [Fact]
    public void While_taking_over_a_replaced_listener_must_leave_its_name_but_keep_accepting()
    {
        var a = Running(Listener("a", 1, 8080), 8080) with { Steered = false };
        var node = Node(a) with { PredecessorHolds = true };
        Assert.Equal(
        [
            "take handler http-ok for a@2", "bind 1 on 127.0.0.1:8080/tcp for a@2", "start listener a@2", "start shards [1] of a@2",
            "retire listener a@1 with shards []", "deferred: retire shards [0] of a@1",
        ], Steps(Plan(node, a.Settings with { Handler = "http-ok" })));
    }

    [Fact]
    public void Once_the_take_over_completed_a_group_with_nothing_else_to_do_must_be_steered()
    {
        var a = Running(Listener("a", 2, 8080), 8080) with { Steered = false };
        Assert.True(Plan(Node(a) with { PredecessorHolds = true }, a.Settings).IsEmpty);
        Assert.Equal(["steer a@1"], Steps(Plan(Node(a), a.Settings)));
    }

    [Fact]
    public void A_pinned_socket_must_not_retire_while_the_node_runs_but_must_when_it_drains()
    {
        var a = Listener("a", 3, 8080);
        var node = Node(Running(a, 8080, new(0, 100), new(1, 101), new(2, 102, Pinned: true)));
        Assert.Equal(["desire 1 for a@1", "retire shards [1, 0] of a@1"], Steps(Plan(node, a with { Shards = 1 })));
        Assert.Equal(["desire 1 for a@1", "retire shards [2, 1] of a@1"], Steps(Plan(node with { Draining = true }, a with { Shards = 1 })));
    }


    [Fact]
    public void The_effective_listeners_must_be_the_configured_ones_with_the_clusters_overrides_over_them()
    {
        var configured = new[] { Listener("a", 1), Listener("b", 2), Listener("c", 1) };
        var overrides = new Dictionary<string, CoordinatorProtocol.ClusterOverride>
        {
            ["a"] = new("a", true, 4, null, 1),
            ["b"] = new("b", false, null, null, 1),
            ["c"] = new("c", true, null, Listener("c", 2, 8080), 1),
            ["z"] = new("z", true, null, Listener("z", 1), 1),
            ["y"] = new("y", true, 3, Listener("y", 1), 1),
            ["x"] = new("x", false, null, Listener("x", 1), 1),
        };
        var effective = Reconciler.Effective(configured, overrides);
        Assert.Equal(["a:4", "c:2:8080", "y:3", "z:1"], effective.Select(l => $"{l.Name}:{l.Shards}{(l.EndPoint.Port == 0 ? "" : $":{l.EndPoint.Port}")}"));
    }

    [Fact]
    public void The_overrides_tried_one_at_a_time_must_be_those_that_changed_in_name_order()
    {
        var accepted = new Dictionary<string, CoordinatorProtocol.ClusterOverride>
        {
            ["a"] = new("a", true, 2, null, 1), ["b"] = new("b", true, 2, null, 1), ["gone"] = new("gone", true, 1, null, 1),
        };
        var wanted = new Dictionary<string, CoordinatorProtocol.ClusterOverride>
        {
            ["b"] = new("b", true, 2, null, 1), ["a"] = new("a", true, 3, null, 1), ["new"] = new("new", false, null, null, 1),
        };
        Assert.Equal(["a", "gone", "new"], Reconciler.ChangedOverrides(accepted, wanted));
        Assert.Equal(3, Reconciler.Trial(accepted, wanted, "a")["a"].Shards);
        Assert.False(Reconciler.Trial(accepted, wanted, "gone").ContainsKey("gone"));
        Assert.Equal(2, Reconciler.Trial(accepted, wanted, "gone")["a"].Shards);
    }

    [Fact]
    public void A_rise_of_the_clusters_handler_generation_must_reload_and_a_first_sight_only_code_loaded_before_the_rise()
    {
        var raisedAt = new DateTimeOffset(2030, 1, 1, 12, 0, 0, TimeSpan.Zero);
        var node = Node(
            Running(Listener("followed", 1), 41000),
            Running(Listener("old-code", 1), 41001) with { LoadedAt = raisedAt.AddMinutes(-1) },
            Running(Listener("new-code", 1), 41002) with { LoadedAt = raisedAt.AddMinutes(1) });
        CoordinatorProtocol.ClusterOverride[] overrides =
        [
            new("followed", true, null, null, 3, raisedAt), new("old-code", true, null, null, 2, raisedAt),
            new("new-code", true, null, null, 2, raisedAt), new("absent", true, null, null, 5, raisedAt), new("not-here", false, null, null, 9, raisedAt),
        ];
        var (reloads, followed) = Reconciler.ClusterReloads(overrides, node, new Dictionary<string, int> { ["followed"] = 2 });
        Assert.Equal(["reload followed@1 to cluster generation 3", "reload old-code@1 to cluster generation 2"], reloads.Select(r => r.ToString()));
        Assert.Equal(["followed=3", "new-code=2", "old-code=2"], followed.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"));
        Assert.Empty(Reconciler.ClusterReloads(overrides, node, followed).Reloads);
    }
}
