using Akka.Actor;
using ShardRuntime.Actors.Coordination;
using Akka.Cluster;
using ShardRuntime.Actors.Cluster;
using ShardRuntime.Actors.Tests.Support;
using Xunit.Abstractions;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Tests.Cluster;

/// <summary>The cluster actor of a single-node cluster over a probe as its coordinator: how it hands the desired state over.</summary>
public sealed class ClusterFollowerSpecs : Akka.TestKit.Xunit2.TestKit
{
    public ClusterFollowerSpecs(ITestOutputHelper output) : base(ClusterSystem.Config(), output: output)
    {
    }

    [Fact]
    public void A_first_desired_state_the_coordinator_refuses_must_be_handed_over_again_until_the_node_follows()
    {
        var settings = Specs.Settings("", "cluster { retry-interval = 200ms }");
        var coordinator = CreateTestProbe("coordinator");
        var cluster = Sys.ActorOf(ClusterListeners.Props(settings, coordinator.Ref), ClusterListeners.ActorName);
        var host = CreateTestProbe("host");
        cluster.Tell(ClusterListeners.WaitUntilFollowing.Instance, host.Ref);
        var membership = Akka.Cluster.Cluster.Get(Sys);
        membership.Join(membership.SelfAddress);

        // The desired state is empty, and the coordinator is not ready for it the first time.
        var first = coordinator.ExpectMsg<CoordinatorProtocol.ApplyClusterState>(Clients.Timeout);
        Assert.Empty(first.Overrides);
        coordinator.Reply(new Status.Failure(new CommandFailedException(first, "the node is still starting")));
        host.ExpectNoMsg(TimeSpan.FromMilliseconds(100));

        var second = coordinator.ExpectMsg<CoordinatorProtocol.ApplyClusterState>(Clients.Timeout);
        Assert.Empty(second.Overrides);
        coordinator.Reply(new CoordinatorProtocol.ClusterStateApplied([]));

        Assert.Equal("in sync", host.ExpectMsg<ClusterListeners.Following>(Clients.Timeout).State);
        Assert.Equal(MemberStatus.Up, membership.SelfMember.Status);
    }
}
