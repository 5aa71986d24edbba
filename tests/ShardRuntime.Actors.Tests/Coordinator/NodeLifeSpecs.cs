using Akka.Actor;
using Akka.TestKit.Xunit2;
using ShardRuntime.Actors.Cluster.Transport;
using ShardRuntime.Actors.Coordination;
using ShardRuntime.Actors.Tests.Support;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Tests.Coordinator;

/// <summary>The node's life as the coordinator's phases: the pure decisions about them, and what a phase refuses on a running node.</summary>
public sealed class NodeLifeSpecs : TestKit
{
    private static readonly UpgradeProgress Passing = new(UpgradeStep.PassingSockets, 42, DateTimeOffset.UtcNow);

    [Fact]
    public void Changes_must_be_refused_only_while_upgrading_draining_or_stopping_each_saying_why()
    {
        Assert.Null(NodeLife.ChangeRefusal(new NodeLife.Starting()));
        Assert.Null(NodeLife.ChangeRefusal(new NodeLife.Serving()));
        Assert.Null(NodeLife.ChangeRefusal(new NodeLife.AwaitingClusterState([])));
        Assert.StartsWith("an upgrade is in progress (passing sockets, successor pid 42, since ", NodeLife.ChangeRefusal(new NodeLife.Upgrading(Passing)));
        Assert.Equal("the node is draining for shutdown", NodeLife.ChangeRefusal(new NodeLife.Draining(DrainCause.Shutdown)));
        foreach (var letGo in new NodeLife[]
                 {
                     new NodeLife.Draining(DrainCause.PassedSockets), new NodeLife.Draining(DrainCause.Withdrew), new NodeLife.Stopping(DrainCause.PassedSockets),
                 })
            Assert.Equal("the node let go of its listening sockets to a successor and is draining", NodeLife.ChangeRefusal(letGo));
    }

    [Fact]
    public void An_upgrade_must_also_wait_for_the_start_and_for_the_clusters_desired_state()
    {
        Assert.Null(NodeLife.UpgradeRefusal(new NodeLife.Serving()));
        Assert.Equal("the node is still starting", NodeLife.UpgradeRefusal(new NodeLife.Starting()));
        Assert.Contains("waits for the cluster's desired state", NodeLife.UpgradeRefusal(new NodeLife.AwaitingClusterState([])));
        Assert.Equal("the node is draining for shutdown", NodeLife.UpgradeRefusal(new NodeLife.Draining(DrainCause.Shutdown)));
    }

    [Fact]
    public void Letting_go_must_keep_its_cause_apart_from_a_shutdown_and_the_first_cause_must_stand()
    {
        Assert.False(new NodeLife.Draining(DrainCause.Shutdown).LetGo);
        Assert.True(new NodeLife.Draining(DrainCause.Shutdown).IsDraining);
        Assert.True(new NodeLife.Draining(DrainCause.PassedSockets).LetGo);
        Assert.True(new NodeLife.Draining(DrainCause.Withdrew).LetGo);
        Assert.False(new NodeLife.Upgrading(Passing).IsDraining);

        // A node draining for shutdown still lets go of shared sockets (without shutdown()) when a successor takes them.
        Assert.Equal(new NodeLife.Draining(DrainCause.PassedSockets), NodeLife.AfterLettingGo(new NodeLife.Draining(DrainCause.Shutdown), DrainCause.PassedSockets));
        Assert.Equal(new NodeLife.Draining(DrainCause.PassedSockets), NodeLife.AfterLettingGo(new NodeLife.Upgrading(Passing), DrainCause.PassedSockets));
        Assert.Equal(new NodeLife.Draining(DrainCause.Withdrew), NodeLife.AfterLettingGo(new NodeLife.Serving(), DrainCause.Withdrew));
        var withdrew = new NodeLife.Draining(DrainCause.Withdrew);
        Assert.Same(withdrew, NodeLife.AfterLettingGo(withdrew, DrainCause.PassedSockets));
    }

    [Fact]
    public void Only_a_node_that_let_go_must_stop_once_drained_and_a_failed_upgrade_must_serve_again_unless_draining()
    {
        Assert.Equal(new NodeLife.Stopping(DrainCause.PassedSockets), NodeLife.WhenDrained(new NodeLife.Draining(DrainCause.PassedSockets, CopiesClosed: true)));
        Assert.Equal(new NodeLife.Stopping(DrainCause.Withdrew), NodeLife.WhenDrained(new NodeLife.Draining(DrainCause.Withdrew)));
        var shutdown = new NodeLife.Draining(DrainCause.Shutdown);
        Assert.Same(shutdown, NodeLife.WhenDrained(shutdown));
        Assert.IsType<NodeLife.Serving>(NodeLife.WhenDrained(new NodeLife.Serving()));

        Assert.IsType<NodeLife.Serving>(NodeLife.AfterUpgradeFailed(new NodeLife.Upgrading(Passing)));
        Assert.Same(shutdown, NodeLife.AfterUpgradeFailed(shutdown));
    }

    [Fact]
    public async Task A_draining_node_must_refuse_scale_reload_and_settings_with_the_reason_and_still_answer_status()
    {
        var coordinator = Specs.StartCoordinator(Sys, Specs.Settings("""e { endpoint = "127.0.0.1:0", handler = echo, shards = 2 }"""));
        var drained = coordinator.Ask<object>(new CoordinatorProtocol.Drain(TimeSpan.FromSeconds(30)), Clients.Timeout);

        foreach (CoordinatorProtocol.ICommand change in new CoordinatorProtocol.ICommand[]
                 {
                     new CoordinatorProtocol.ScaleTo("e", 3), new CoordinatorProtocol.Reload(null),
                     new CoordinatorProtocol.ApplySettings(Specs.Settings("""e { endpoint = "127.0.0.1:0", handler = echo, shards = 4 }""").Listeners),
                 })
        {
            var refused = await Assert.ThrowsAsync<CommandFailedException>(() => coordinator.Ask<object>(change, Clients.Timeout));
            Assert.Same(change, refused.Command);
            Assert.Equal("the node is draining for shutdown", refused.Reason);
        }
        Assert.True(Specs.Status(coordinator).Draining);
        Assert.IsType<CoordinatorProtocol.Drained>(await drained);
    }
}
