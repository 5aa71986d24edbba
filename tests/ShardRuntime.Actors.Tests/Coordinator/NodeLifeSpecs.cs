using Akka.Actor;
using Akka.TestKit.Xunit2;
using ShardRuntime.Actors.Cluster.Transport;
using ShardRuntime.Actors.Coordination;
using ShardRuntime.Actors.Tests.Support;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Tests.Coordinator;

/// <summary>The node's life as the coordinator's phases: which phase its registry records, and what each phase refuses.</summary>
public sealed class NodeLifeSpecs : TestKit
{
    [Fact]
    public void The_phase_must_follow_the_registry_draining_first_then_an_upgrade_then_the_wait_for_the_cluster()
    {
        var state = new CoordinatorState(new UpgradeOptions(), ClusterTransport.Lone);
        Assert.Equal(NodePhase.Serving, NodeLife.PhaseOf(state));
        state.AwaitingClusterState = true;
        Assert.Equal(NodePhase.AwaitingClusterState, NodeLife.PhaseOf(state));
        state.Upgrade = new UpgradeInProgress(null);
        Assert.Equal(NodePhase.Upgrading, NodeLife.PhaseOf(state));
        state.LetGo = true;
        Assert.Equal(NodePhase.Draining, NodeLife.PhaseOf(state));
        state.LetGo = false;
        state.Upgrade = null;
        state.Draining = true;
        Assert.Equal(NodePhase.Draining, NodeLife.PhaseOf(state));
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
            var refused = Assert.IsType<CoordinatorProtocol.CommandFailed>(await coordinator.Ask<object>(change, Clients.Timeout));
            Assert.Same(change, refused.Command);
            Assert.Equal("the node is draining for shutdown", refused.Reason);
        }
        Assert.True(Specs.Status(coordinator).Draining);
        Assert.IsType<CoordinatorProtocol.Drained>(await drained);
    }
}
