using ShardRuntime.Actors.Coordination;
using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;
using Akka.TestKit;
using ShardRuntime.Actors.Cluster;
using ShardRuntime.Actors.Handlers;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Actors.Tests.Support;
using Xunit.Abstractions;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Tests.Cluster;

/// <summary>
/// The cluster actor of a single-node cluster (the cluster provider on 127.0.0.1, the node joined to itself) over a real
/// coordinator: changes of the desired state written by "all" of one node, followed by the coordinator.
/// </summary>
public sealed class ClusterListenersSpecs : Akka.TestKit.Xunit2.TestKit
{
    private const string OwnListeners = """
        a { endpoint = "127.0.0.1:0", handler = echo, shards = 1 }
        b { endpoint = "127.0.0.1:0", handler = echo, shards = 2 }
        g { endpoint = "127.0.0.1:0", handler = generation-echo, shards = 1 }
        """;

    public ClusterListenersSpecs(ITestOutputHelper output) : base(ClusterSystem.Config("akka.cluster.roles = [edge, core]"), output: output)
    {
    }

    private sealed record Node(IActorRef Coordinator, IActorRef Cluster, TestProbe Client);

    /// <summary>Starts the coordinator and the cluster actor (at its path on every node), joins the node to itself and waits until it is Up.</summary>
    private async Task<Node> StartAsync(string clusterSettings = "", string nodeSettings = "")
    {
        var settings = Specs.Settings(OwnListeners, $"cluster {{ retry-interval = 200ms\n {clusterSettings} }}\n{nodeSettings}");
        var coordinator = Specs.StartCoordinator(Sys, settings, HandlerCatalog.WithBuiltIns().Add(new GenerationEchoFactory()));
        var cluster = Sys.ActorOf(ClusterListeners.Props(settings, coordinator), ClusterListeners.ActorName);
        Assert.Equal($"/user/{ClusterListeners.ActorName}", cluster.Path.ToStringWithoutAddress());
        var membership = Akka.Cluster.Cluster.Get(Sys);
        membership.Join(membership.SelfAddress);
        await AwaitAssertAsync(() => Assert.Equal(MemberStatus.Up, membership.SelfMember.Status), Clients.Timeout);
        return new Node(coordinator, cluster, CreateTestProbe("client"));
    }

    private static T Ask<T>(Node node, ClusterListeners.ICommand command)
    {
        node.Cluster.Tell(command, node.Client);
        return node.Client.ExpectMsg<T>(Clients.Timeout);
    }

    private static string Refusal(Node node, ClusterListeners.ICommand command)
    {
        var failed = Assert.IsType<CommandFailedException>(Ask<Status.Failure>(node, command).Cause);
        Assert.Same(command, failed.Command);
        return failed.Reason;
    }

    /// <summary>The listener runs <paramref name="shards"/> accepting shards on the node.</summary>
    private async Task AssertShardsAsync(Node node, string listener, int shards) =>
        await AwaitAssertAsync(() =>
        {
            var status = Specs.Status(node.Coordinator).Listeners.Where(l => l.Name == listener && l.DesiredShards > 0).ToList();
            var serving = Assert.Single(status);
            Assert.Equal(shards, serving.DesiredShards);
            Assert.Equal(shards, serving.Shards.Count(s => s.State == "accepting"));
        }, Clients.Timeout);

    private async Task AssertNotServedAsync(Node node, string listener) =>
        await AwaitAssertAsync(() => Assert.DoesNotContain(Specs.Status(node.Coordinator).Listeners, l => l.Name == listener), Clients.Timeout);

    private static ClusterListener Desired(Node node, string listener)
    {
        var desired = Ask<ClusterListeners.DesiredState>(node, ClusterListeners.GetDesiredState.Instance).Listeners;
        return Assert.Single(desired, l => l.Name == listener);
    }

    [Fact]
    public async Task ScaleListener_must_be_stored_by_all_of_one_node_and_change_the_coordinators_shards()
    {
        var node = await StartAsync();
        Assert.Empty(Ask<ClusterListeners.DesiredState>(node, ClusterListeners.GetDesiredState.Instance).Listeners);

        var changed = Ask<ClusterListeners.ListenerChanged>(node, new ClusterListeners.ScaleListener("a", 3));

        Assert.Equal("all", changed.StoredBy);
        Assert.Equal(1, changed.Nodes);
        Assert.Equal("a", changed.Listener.Name);
        Assert.Equal(3, changed.Listener.Shards);
        Assert.Equal(1, changed.Listener.HandlerGeneration);
        Assert.Equal(Akka.Cluster.Cluster.Get(Sys).SelfAddress.ToString(), changed.Listener.ChangedBy);
        await AssertShardsAsync(node, "a", 3);
        Assert.Equal(3, Desired(node, "a").Shards);
        // The node's own scale of it now points at the cluster.
        var local = await Assert.ThrowsAsync<CommandFailedException>(() => node.Coordinator.Ask<CoordinatorProtocol.ScaledTo>(new CoordinatorProtocol.ScaleTo("a", 1), Clients.Timeout));
        Assert.Contains("--cluster", local.Reason);
    }

    [Fact]
    public async Task ScaleListener_of_a_role_must_change_only_the_nodes_of_that_role()
    {
        var node = await StartAsync();

        // A role no node has is most likely a typo: refused, naming the roles there are.
        Assert.Equal("no node has role 'ingest' (roles: core, edge); nothing was written",
            Refusal(node, new ClusterListeners.ScaleListener("a", 4, Role: "ingest")));
        Ask<ClusterListeners.ListenerChanged>(node, new ClusterListeners.ScaleListener("b", 3));
        await AssertShardsAsync(node, "b", 3);
        await AssertShardsAsync(node, "a", 1);

        var changed = Ask<ClusterListeners.ListenerChanged>(node, new ClusterListeners.ScaleListener("a", 5, Role: "edge"));
        Assert.Equal([("edge", 5)], changed.Listener.ShardsByRole.Select(r => (r.Key, r.Value)));
        Assert.Null(changed.Listener.Shards);
        await AssertShardsAsync(node, "a", 5);

        // Shards on every node drop the per-role counts.
        changed = Ask<ClusterListeners.ListenerChanged>(node, new ClusterListeners.ScaleListener("a", 2));
        Assert.Empty(changed.Listener.ShardsByRole);
        await AssertShardsAsync(node, "a", 2);
    }

    [Fact]
    public async Task ScaleListener_of_a_listener_nobody_knows_must_be_refused_naming_it_and_the_known_ones()
    {
        var node = await StartAsync();

        var reason = Refusal(node, new ClusterListeners.ScaleListener("nope", 2));

        Assert.Contains("no listener named 'nope'", reason);
        Assert.Contains("(listeners: a, b, g)", reason);
        Assert.Empty(Ask<ClusterListeners.DesiredState>(node, ClusterListeners.GetDesiredState.Instance).Listeners);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(257)]
    public async Task ScaleListener_out_of_range_must_be_refused_and_write_nothing(int shards)
    {
        var node = await StartAsync();

        var reason = Refusal(node, new ClusterListeners.ScaleListener("a", shards));

        Assert.Equal(ListenerSettings.ShardCountRefusal("a", shards), reason);
        Assert.Contains($"got {shards}", reason);
        Assert.Empty(Ask<ClusterListeners.DesiredState>(node, ClusterListeners.GetDesiredState.Instance).Listeners);
    }

    [Fact]
    public async Task ScaleListener_of_an_empty_role_or_a_bad_name_must_be_refused()
    {
        var node = await StartAsync();

        Assert.Equal("the role must not be empty", Refusal(node, new ClusterListeners.ScaleListener("a", 2, Role: " ")));
        Assert.Contains("letters, digits", Refusal(node, new ClusterListeners.ScaleListener("a b", 2)));
    }

    [Fact]
    public async Task SetListener_with_a_definition_the_node_cannot_read_must_be_refused_naming_the_key()
    {
        var node = await StartAsync();

        var reason = Refusal(node, new ClusterListeners.SetListener("api", Definition: """endpoint = "nowhere", handler = echo"""));
        Assert.Contains("cluster.listeners.api.endpoint", reason);
        Assert.Contains("address and port", reason);

        reason = Refusal(node, new ClusterListeners.SetListener("api", Definition: """endpoint = "127.0.0.1:0", shards = {"""));
        Assert.Contains("cluster.listeners.api", reason);
        Assert.Contains("not valid HOCON", reason);

        Assert.Contains("a listener keeps 1 to 256 shards, got 0", Refusal(node, new ClusterListeners.SetListener("a", Shards: 0)));
        Assert.Equal("a role must not be empty", Refusal(node, new ClusterListeners.SetListener("a", Roles: ["edge", ""])));
        Assert.Empty(Ask<ClusterListeners.DesiredState>(node, ClusterListeners.GetDesiredState.Instance).Listeners);
    }

    [Fact]
    public async Task SetListener_with_a_definition_must_add_the_listener_to_the_node()
    {
        var node = await StartAsync();

        var changed = Ask<ClusterListeners.ListenerChanged>(node,
            new ClusterListeners.SetListener("api", Definition: """endpoint = "127.0.0.1:0", handler = echo""", Shards: 2));

        Assert.Equal("""endpoint = "127.0.0.1:0", handler = echo""", changed.Listener.Definition);
        await AssertShardsAsync(node, "api", 2);
        var api = Specs.Listener(node.Coordinator, "api");
        Assert.Equal("echo", api.Handler);
    }

    /// <summary>A definition of listener "ext" with the sample greeting handler from <paramref name="assembly"/>.</summary>
    private static ClusterListeners.SetListener ExtWith(string assembly) => new("ext",
        Definition: $"endpoint = \"127.0.0.1:0\", handler-assembly = \"{assembly}\", handler-type = \"SampleHandlers.GreetingFactory\"", Shards: 1);

    /// <summary>The node's following state as <c>status --cluster</c> shows it.</summary>
    private static string? Following(Node node) =>
        Assert.Single(Ask<ClusterListeners.ClusterStatus>(node, ClusterListeners.GetClusterStatus.Instance).Members).Following;

    [Fact]
    public async Task SetListener_naming_a_handler_assembly_outside_the_handler_directories_must_be_refused_here_with_the_reason_in_the_cluster_status()
    {
        using var allowed = new SpecialFiles.TempDirectory("sr-allowed-");
        using var outside = new SpecialFiles.TempDirectory("sr-outside-");
        var assembly = outside.CopySampleHandlers();
        var node = await StartAsync(nodeSettings: $"handler-directories = [\"{allowed.Path}\"]");

        // The change is written (another node may allow the path); this node refuses to load it and says why.
        Ask<ClusterListeners.ListenerChanged>(node, ExtWith(assembly));

        await AwaitAssertAsync(() =>
        {
            var following = Following(node);
            Assert.Contains("listener 'ext'", following);
            Assert.Contains($"'{assembly}' is outside the directories this node allows handler assemblies from (shard-runtime.handler-directories: {allowed.Path})", following);
        }, Clients.Timeout);
        Assert.DoesNotContain(Specs.Status(node.Coordinator).Listeners, l => l.Name == "ext");
        await AssertShardsAsync(node, "a", 1); // the node's own listeners serve on
    }

    [Fact]
    public async Task SetListener_naming_a_handler_assembly_with_no_handler_directories_set_must_be_refused_here()
    {
        using var files = new SpecialFiles.TempDirectory("sr-outside-");
        var assembly = files.CopySampleHandlers();
        var node = await StartAsync();

        Ask<ClusterListeners.ListenerChanged>(node, ExtWith(assembly));

        await AwaitAssertAsync(() => Assert.Contains("(shard-runtime.handler-directories: none: built-in handlers only)", Following(node)), Clients.Timeout);
        Assert.DoesNotContain(Specs.Status(node.Coordinator).Listeners, l => l.Name == "ext");
    }

    [Fact]
    public async Task SetListener_naming_a_handler_assembly_inside_the_handler_directories_must_load_it()
    {
        using var allowed = new SpecialFiles.TempDirectory("sr-allowed-");
        var assembly = allowed.CopySampleHandlers();
        var node = await StartAsync(nodeSettings: $"handler-directories = [\"{allowed.Path}\"]");

        Ask<ClusterListeners.ListenerChanged>(node, ExtWith(assembly));

        await AssertShardsAsync(node, "ext", 1);
        var ext = Specs.Listener(node.Coordinator, "ext");
        Assert.Equal("greeting", ext.Handler);
        Assert.Equal(assembly, Assert.Single(ext.Generations).Assembly);
        await AwaitAssertAsync(() => Assert.Equal("in sync", Following(node)), Clients.Timeout);
    }

    [Fact]
    public async Task SetListener_naming_a_symlink_inside_the_handler_directories_to_an_assembly_outside_must_be_refused_naming_the_real_path()
    {
        using var allowed = new SpecialFiles.TempDirectory("sr-allowed-");
        using var outside = new SpecialFiles.TempDirectory("sr-outside-");
        var real = outside.CopySampleHandlers();
        var link = Path.Combine(allowed.Path, "SampleHandlers.dll");
        File.CreateSymbolicLink(link, real);
        var node = await StartAsync(nodeSettings: $"handler-directories = [\"{allowed.Path}\"]");

        Ask<ClusterListeners.ListenerChanged>(node, ExtWith(link));

        await AwaitAssertAsync(() => Assert.Contains($"'{link}' (really '{real}') is outside the directories", Following(node)), Clients.Timeout);
        Assert.DoesNotContain(Specs.Status(node.Coordinator).Listeners, l => l.Name == "ext");
    }

    [Fact]
    public async Task SetListener_with_roles_the_node_does_not_have_must_retire_the_listener_here()
    {
        var node = await StartAsync();

        Ask<ClusterListeners.ListenerChanged>(node, new ClusterListeners.SetListener("b", Roles: ["ingest"]));
        await AssertNotServedAsync(node, "b");

        // An empty list: every node again.
        var changed = Ask<ClusterListeners.ListenerChanged>(node, new ClusterListeners.SetListener("b", Roles: []));
        Assert.Empty(changed.Listener.Roles);
        await AssertShardsAsync(node, "b", 2);
    }

    [Fact]
    public async Task RemoveListener_must_retire_the_listener_until_it_is_set_again()
    {
        var node = await StartAsync();

        var removed = Ask<ClusterListeners.ListenerChanged>(node, new ClusterListeners.RemoveListener("b"));
        Assert.True(removed.Listener.Removed);
        await AssertNotServedAsync(node, "b");

        Assert.Contains("removed cluster-wide", Refusal(node, new ClusterListeners.ScaleListener("b", 4)));

        var back = Ask<ClusterListeners.ListenerChanged>(node, new ClusterListeners.SetListener("b"));
        Assert.False(back.Listener.Removed);
        await AssertShardsAsync(node, "b", 2);
    }

    [Fact]
    public async Task RemoveListener_of_a_listener_nobody_knows_must_be_refused_naming_it()
    {
        var node = await StartAsync();

        Assert.Contains("no listener named 'nope'", Refusal(node, new ClusterListeners.RemoveListener("nope")));
    }

    [Fact]
    public async Task SetListener_with_reload_must_make_the_node_reload_the_listeners_handler()
    {
        var node = await StartAsync();
        // The listener is in the desired state, and followed, before its generation is raised.
        Ask<ClusterListeners.ListenerChanged>(node, new ClusterListeners.ScaleListener("g", 2));
        await AssertShardsAsync(node, "g", 2);

        var changed = Ask<ClusterListeners.ListenerChanged>(node, new ClusterListeners.SetListener("g", Reload: true));

        Assert.Equal(2, changed.Listener.HandlerGeneration);
        await AwaitAssertAsync(() => Assert.Equal(2, Specs.Listener(node.Coordinator, "g").Generation), Clients.Timeout);
    }

    [Fact]
    public async Task GetClusterStatus_must_list_the_one_member_with_its_node_status()
    {
        var node = await StartAsync();
        Ask<ClusterListeners.ListenerChanged>(node, new ClusterListeners.ScaleListener("a", 2));
        await AssertShardsAsync(node, "a", 2);

        var status = Ask<ClusterListeners.ClusterStatus>(node, ClusterListeners.GetClusterStatus.Instance);

        var self = Akka.Cluster.Cluster.Get(Sys).SelfAddress.ToString();
        Assert.Equal(self, status.SelfAddress);
        Assert.Equal(self, status.Leader);
        Assert.Null(status.Removed);
        Assert.Equal(["a"], status.Desired.Select(l => l.Name));
        var member = Assert.Single(status.Members);
        Assert.Equal(self, member.Address);
        Assert.Equal(["core", "edge"], member.Roles);
        Assert.Equal("Up", member.Status);
        Assert.True(member.Reachable);
        Assert.Null(member.Error);
        Assert.Equal("in sync", member.Following);
        Assert.NotNull(member.Node);
        Assert.Equal(Environment.ProcessId, member.Node.ProcessId);
        Assert.Equal(["a", "b", "g"], member.Node.Listeners.Select(l => l.Name));
        Assert.Equal(2, member.Node.Listeners[0].DesiredShards);
    }

    [Fact]
    public async Task RollingReload_of_one_listener_must_reload_it_on_the_node_and_raise_its_desired_generation_once()
    {
        var node = await StartAsync();

        var report = Ask<ClusterListeners.RollingReloadReport>(node, new ClusterListeners.RollingReload("g"));

        Assert.True(report.Completed, report.Failure);
        Assert.Equal("g", report.Listener);
        var step = Assert.Single(report.Nodes);
        Assert.Equal(Akka.Cluster.Cluster.Get(Sys).SelfAddress.ToString(), step.Address);
        Assert.Equal("reloaded", step.Outcome);
        Assert.Equal([new CoordinatorProtocol.ListenerGeneration("g", 2)], step.Generations);
        Assert.NotNull(step.Seconds);
        // The node's replica tells its subscribers of the write a moment after the write is confirmed.
        await AwaitAssertAsync(() => Assert.Equal(2, Desired(node, "g").HandlerGeneration), Clients.Timeout);

        // Once the node follows a later change, the raised generation has reached it too: it reloads nothing more.
        Ask<ClusterListeners.ListenerChanged>(node, new ClusterListeners.ScaleListener("a", 2));
        await AssertShardsAsync(node, "a", 2);
        Assert.Equal(2, Specs.Listener(node.Coordinator, "g").Generation);
        Assert.Equal(1, Specs.Listener(node.Coordinator, "b").Generation);
    }

    [Fact]
    public async Task RollingReload_of_every_listener_must_reload_them_all_and_leave_the_desired_state_alone()
    {
        var node = await StartAsync();

        var report = Ask<ClusterListeners.RollingReloadReport>(node, new ClusterListeners.RollingReload(null));

        Assert.True(report.Completed, report.Failure);
        Assert.Equal(["a", "b", "g"], Assert.Single(report.Nodes).Generations.Select(g => g.Listener));
        Assert.All(Specs.Status(node.Coordinator).Listeners, l => Assert.Equal(2, l.Generation));
        Assert.Empty(Ask<ClusterListeners.DesiredState>(node, ClusterListeners.GetDesiredState.Instance).Listeners);
    }

    [Fact]
    public async Task RollingReload_of_a_listener_no_node_serves_must_say_so_for_each_node_and_not_complete()
    {
        var node = await StartAsync();

        var report = Ask<ClusterListeners.RollingReloadReport>(node, new ClusterListeners.RollingReload("nope"));

        Assert.False(report.Completed);
        var step = Assert.Single(report.Nodes);
        Assert.Equal("not served", step.Outcome);
        Assert.Equal("no node serves listener 'nope'", report.Failure);
        Assert.Empty(Ask<ClusterListeners.DesiredState>(node, ClusterListeners.GetDesiredState.Instance).Listeners);
    }

    [Fact]
    public async Task SetListener_with_reload_of_a_listener_new_to_the_desired_state_must_reload_it_where_it_was_loaded_before()
    {
        var node = await StartAsync();
        Assert.Equal(1, Specs.Listener(node.Coordinator, "g").Generation);

        // The first the desired state hears of g is a raised generation: code loaded before that is reloaded.
        var changed = Ask<ClusterListeners.ListenerChanged>(node, new ClusterListeners.SetListener("g", Reload: true));

        Assert.Equal(2, changed.Listener.HandlerGeneration);
        await AwaitAssertAsync(() => Assert.Equal(2, Specs.Listener(node.Coordinator, "g").Generation), Clients.Timeout);
    }

    [Fact]
    public async Task A_change_must_be_in_the_writing_nodes_own_view_when_its_reply_arrives()
    {
        var node = await StartAsync();
        for (var shards = 2; shards <= 4; shards++)
        {
            Ask<ClusterListeners.ListenerChanged>(node, new ClusterListeners.ScaleListener("a", shards));
            // No wait: read-your-writes on the node that wrote.
            Assert.Equal(shards, Desired(node, "a").Shards);
        }
        await AssertShardsAsync(node, "a", 4);
    }

    [Fact]
    public async Task A_change_that_not_every_node_confirms_must_be_made_once_though_it_is_written_twice()
    {
        var node = await StartAsync("write-timeout = 300ms");
        Ask<ClusterListeners.ListenerChanged>(node, new ClusterListeners.ScaleListener("g", 2));
        await AssertShardsAsync(node, "g", 2);
        // A second member that never confirms a write (it runs no replicator): to every node, then to a majority, both time out.
        using var silent = ActorSystem.Create(Sys.Name, ClusterSystem.Config());
        try
        {
            var membership = Akka.Cluster.Cluster.Get(silent);
            membership.Join(Akka.Cluster.Cluster.Get(Sys).SelfAddress);
            await AwaitAssertAsync(() =>
                Assert.Equal(2, Akka.Cluster.Cluster.Get(Sys).State.Members.Count(m => m.Status == MemberStatus.Up)), Clients.Timeout);

            var reason = Refusal(node, new ClusterListeners.SetListener("g", Reload: true));

            Assert.Contains("fewer than a majority of the 2 nodes confirmed it", reason);
            var stored = await DistributedData.Get(Sys).Replicator.Ask<IGetResponse>(
                Dsl.Get(ClusterListenersActor.Key, ReadLocal.Instance), Clients.Timeout);
            Assert.Equal(2, stored.Get(ClusterListenersActor.Key)["g"].HandlerGeneration);
        }
        finally
        {
            await silent.Terminate().WaitAsync(Clients.Timeout);
        }
    }
}
