using ShardRuntime.Actors.Coordination;
using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;
using ShardRuntime.Actors.Cluster;
using ShardRuntime.Actors.Tests.Support;

namespace ShardRuntime.Actors.Tests.Cluster;

/// <summary>The writer's decisions, without an ActorSystem: what a change does to an entry, when it is refused, how it is written, what its requester hears.</summary>
public sealed class WriteDecisionsSpecs
{
    private static readonly DateTimeOffset At = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);
    private static readonly Address Self = new("akka.tcp", "sys", "10.0.0.1", 2551);

    private static ClusterMember Member(string host, MemberStatus status = MemberStatus.Up, bool reachable = true, params string[] roles) =>
        new(new Address("akka.tcp", "sys", host, 2551), status, roles, reachable);

    private static WriteRequest Request(ClusterListeners.ICommand command, params ClusterMember[] members)
    {
        var (request, refusal) = WriteDecisions.Request(command, ActorRefs.Nobody, At, members, Specs.Settings(""));
        Assert.Null(refusal);
        return request!;
    }

    private static string Refusal(ClusterListeners.ICommand command, params ClusterMember[] members)
    {
        var (request, refusal) = WriteDecisions.Request(command, ActorRefs.Nobody, At, members, Specs.Settings(""));
        Assert.Null(request);
        return refusal!;
    }

    [Fact]
    public void Scale_on_every_node_must_set_the_shards_and_drop_the_per_role_counts()
    {
        var before = WriteDecisions.Apply(ClusterListener.New("api"), new ListenerChange.Scale(5, "edge"), "a", At);

        var after = WriteDecisions.Apply(before, new ListenerChange.Scale(3, null), "b", At.AddSeconds(1));

        Assert.Equal(3, after.Shards);
        Assert.Empty(after.ShardsByRole);
        Assert.Equal("b", after.ChangedBy);
        Assert.Equal(At.AddSeconds(1), after.ChangedAt);
        Assert.Equal(1, after.HandlerGeneration);
    }

    [Fact]
    public void Scale_of_a_role_must_set_that_roles_count_and_leave_the_shards_per_node()
    {
        var before = ClusterListener.New("api") with { Shards = 2 };

        var after = WriteDecisions.Apply(before, new ListenerChange.Scale(5, "edge"), "a", At);

        Assert.Equal(2, after.Shards);
        Assert.Equal([("edge", 5)], after.ShardsByRole.Select(r => (r.Key, r.Value)));
    }

    [Fact]
    public void Set_must_change_only_what_is_given_and_bring_a_removed_listener_back()
    {
        var before = WriteDecisions.Apply(ClusterListener.New("api") with { Shards = 4, Definition = "x = 1" }, new ListenerChange.Remove(), "a", At);
        Assert.True(before.Removed);

        var after = WriteDecisions.Apply(before, new ListenerChange.Set(null, null, ["edge", "core"], false), "a", At);

        Assert.False(after.Removed);
        Assert.Equal(4, after.Shards);
        Assert.Equal("x = 1", after.Definition);
        Assert.Equal(["core", "edge"], after.Roles);
        Assert.Equal(1, after.HandlerGeneration);
        Assert.Equal(default, after.GenerationRaisedAt);
        Assert.Empty(WriteDecisions.Apply(after, new ListenerChange.Set(null, null, [], false), "a", At).Roles);
    }

    [Fact]
    public void Set_with_reload_must_raise_the_generation_by_one_and_say_when()
    {
        var after = WriteDecisions.Apply(ClusterListener.New("api"), new ListenerChange.Set(null, null, null, true), "a", At);

        Assert.Equal(2, after.HandlerGeneration);
        Assert.Equal(At, after.GenerationRaisedAt);
    }

    [Fact]
    public void Recording_a_rolling_reloads_generation_must_never_lower_it()
    {
        var at3 = WriteDecisions.Apply(ClusterListener.New("api"), new ListenerChange.RecordGeneration(3), "a", At);
        Assert.Equal(3, at3.HandlerGeneration);
        Assert.Equal(At, at3.GenerationRaisedAt);

        var again = WriteDecisions.Apply(at3, new ListenerChange.RecordGeneration(2), "b", At.AddSeconds(5));

        Assert.Equal(3, again.HandlerGeneration);
        Assert.Equal(At, again.GenerationRaisedAt);
    }

    [Fact]
    public void Modify_must_make_the_change_once_and_a_second_write_must_spread_the_state_as_it_is()
    {
        var self = new UniqueAddress(Self, 7);
        var request = Request(new ClusterListeners.SetListener("api", Reload: true), Member("10.0.0.1")) with { All = true, Nodes = 1 };

        var once = WriteDecisions.Modify(LWWDictionary<string, ClusterListener>.Empty, request, self);
        var spread = WriteDecisions.Modify(once, request with { All = false, Spread = true }, self);

        Assert.Equal(2, once["api"].HandlerGeneration);
        Assert.Equal(Self.ToString(), once["api"].ChangedBy);
        Assert.Same(once, spread);
        Assert.Equal(2, spread["api"].HandlerGeneration);
    }

    [Fact]
    public void A_request_must_say_which_checks_its_command_needs()
    {
        var scale = Request(new ClusterListeners.ScaleListener("api", 2), Member("10.0.0.1"));
        Assert.Equal((true, true), (scale.RequireKnown, scale.RefuseRemoved));
        var remove = Request(new ClusterListeners.RemoveListener("api"));
        Assert.Equal((true, false), (remove.RequireKnown, remove.RefuseRemoved));
        var set = Request(new ClusterListeners.SetListener("api", Shards: 2));
        Assert.Equal((true, false), (set.RequireKnown, set.RefuseRemoved));
        var defined = Request(new ClusterListeners.SetListener("api", Definition: """endpoint = "127.0.0.1:0", handler = echo"""));
        Assert.False(defined.RequireKnown);
        Assert.Equal(At, defined.At);
    }

    [Fact]
    public void A_change_must_be_refused_before_anything_is_read_when_the_command_is_bad()
    {
        Assert.Contains("got 0", Refusal(new ClusterListeners.ScaleListener("api", 0)));
        Assert.Equal("the role must not be empty", Refusal(new ClusterListeners.ScaleListener("api", 2, " ")));
        Assert.Equal("no node has role 'ingest' (roles: core, edge); nothing was written",
            Refusal(new ClusterListeners.ScaleListener("api", 2, "ingest"), Member("a", roles: ["edge"]), Member("b", roles: ["core", "edge"])));
        Assert.Equal("no node has role 'ingest' (roles: none); nothing was written", Refusal(new ClusterListeners.ScaleListener("api", 2, "ingest")));
        Assert.Contains("letters, digits", Refusal(new ClusterListeners.RemoveListener("a b")));
        Assert.Equal("a role must not be empty", Refusal(new ClusterListeners.SetListener("api", Roles: ["edge", ""])));
        Assert.Contains("cluster.listeners.api", Refusal(new ClusterListeners.SetListener("api", Definition: "endpoint = {")));
    }

    [Fact]
    public void A_removed_listener_must_refuse_a_scale_and_name_the_way_back()
    {
        var desired = LWWDictionary<string, ClusterListener>.Empty.SetItem(new UniqueAddress(Self, 1), "api", ClusterListener.New("api") with { Removed = true });

        Assert.Equal("listener 'api' was removed cluster-wide; `listener set api` brings it back",
            WriteDecisions.RemovedRefusal(Request(new ClusterListeners.ScaleListener("api", 2)), desired));
        Assert.Null(WriteDecisions.RemovedRefusal(Request(new ClusterListeners.SetListener("api")), desired));
        Assert.Null(WriteDecisions.RemovedRefusal(Request(new ClusterListeners.ScaleListener("other", 2)), desired));
    }

    [Fact]
    public void A_listener_nobody_knows_must_be_refused_naming_the_known_ones_once()
    {
        var request = Request(new ClusterListeners.RemoveListener("nope"));

        Assert.Equal("no listener named 'nope' on this node nor in the cluster's desired state (listeners: a, b, c); " +
                     "`listener set NAME --definition ...` defines one cluster-wide",
            WriteDecisions.UnknownRefusal(request, ["b", "a"], ["c", "a"], TimeSpan.FromSeconds(5)));
        Assert.Null(WriteDecisions.UnknownRefusal(request, ["nope"], [], TimeSpan.FromSeconds(5)));
        Assert.Null(WriteDecisions.UnknownRefusal(request, [], ["nope"], TimeSpan.FromSeconds(5)));
        Assert.Contains("did not answer within 00:00:05, so 'nope' could not be checked; nothing was written",
            WriteDecisions.UnknownRefusal(request, null, ["nope"], TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public void A_change_must_go_to_every_node_when_all_are_reachable_and_to_a_majority_otherwise()
    {
        var request = Request(new ClusterListeners.RemoveListener("api"));
        ClusterMember[] members = [Member("10.0.0.1"), Member("10.0.0.2", MemberStatus.Leaving), Member("10.0.0.3", MemberStatus.WeaklyUp), Member("10.0.0.4", MemberStatus.Joining)];

        var (all, _) = WriteDecisions.Consistency(request, members, Self, MemberStatus.Up);
        Assert.Equal((3, true), (all!.Nodes, all.All));

        members[1] = members[1] with { Reachable = false };
        var (majority, _) = WriteDecisions.Consistency(request, members, Self, MemberStatus.Up);
        Assert.Equal((3, false), (majority!.Nodes, majority.All));
    }

    [Fact]
    public void A_change_must_be_refused_below_a_majority_and_before_this_node_is_up()
    {
        var request = Request(new ClusterListeners.RemoveListener("api"));
        ClusterMember[] members = [Member("10.0.0.1"), Member("10.0.0.2", reachable: false), Member("10.0.0.3", reachable: false)];

        Assert.Equal("only 1 of 3 nodes are reachable (unreachable: akka.tcp://sys@10.0.0.2:2551, akka.tcp://sys@10.0.0.3:2551); " +
                     "a change must reach a majority (2): nothing was written",
            WriteDecisions.Consistency(request, members, Self, MemberStatus.Up).Refusal);
        Assert.Equal("this node is not up in the cluster yet (Joining); nothing was written",
            WriteDecisions.Consistency(request, [members[0] with { Status = MemberStatus.Joining }], Self, MemberStatus.Joining).Refusal);
    }

    [Fact]
    public void A_write_that_not_every_node_confirms_must_be_spread_to_a_majority_and_then_reported()
    {
        var request = Request(new ClusterListeners.RemoveListener("api")) with { All = true, Nodes = 3 };
        var key = ClusterListenersActor.Key;

        var again = Assert.IsType<UpdateOutcome.Again>(WriteDecisions.AfterUpdate(request, new UpdateTimeout(key, request), TimeSpan.FromSeconds(1)));
        Assert.Equal((false, true), (again.Request.All, again.Request.Spread));

        var failed = Assert.IsType<UpdateOutcome.Failed>(WriteDecisions.AfterUpdate(again.Request, new UpdateTimeout(key, again.Request), TimeSpan.FromSeconds(1)));
        Assert.StartsWith("the change is stored on this node, but fewer than a majority of the 3 nodes confirmed it within 00:00:01", failed.Reason);
        Assert.IsType<UpdateOutcome.Stored>(WriteDecisions.AfterUpdate(again.Request, new UpdateSuccess(key, again.Request), TimeSpan.FromSeconds(1)));
        Assert.Equal("the change could not be made: boom", Assert.IsType<UpdateOutcome.Failed>(
            WriteDecisions.AfterUpdate(request, new ModifyFailure(key, "boom", new InvalidOperationException("boom"), request), TimeSpan.FromSeconds(1))).Reason);
    }

    [Fact]
    public void The_reply_must_carry_the_stored_entry_or_the_failure()
    {
        var command = new ClusterListeners.RemoveListener("api");
        var request = Request(command) with { All = false, Nodes = 3 };
        var stored = ClusterListener.New("api") with { Removed = true };

        Assert.Equal(new ClusterListeners.ListenerChanged(stored, "majority", 3), WriteDecisions.Reply(request, stored, null));
        var refused = CommandFailedException.In(WriteDecisions.Reply(request, null, "no"));
        Assert.Same(command, refused?.Command);
        Assert.Equal("no", refused?.Reason);
    }

    [Fact]
    public void The_reply_to_a_rolling_reloads_generation_must_be_its_report_marked_unfinished_when_not_recorded()
    {
        var report = new ClusterListeners.RollingReloadReport("api", true, [], null);
        var request = new WriteRequest(new ClusterListeners.RollingReload("api"), ActorRefs.Nobody, "api", new ListenerChange.RecordGeneration(3), At, Report: report);

        Assert.Same(report, WriteDecisions.Reply(request, ClusterListener.New("api"), null));
        var failed = Assert.IsType<ClusterListeners.RollingReloadReport>(WriteDecisions.Reply(request, null, "no majority"));
        Assert.False(failed.Completed);
        Assert.Equal("every node reloaded, but the new handler generation 3 was not recorded in the desired state: no majority", failed.Failure);
    }
}
