using ShardRuntime.Actors.Coordination;
using Akka.Actor;
using Akka.Cluster;
using ShardRuntime.Actors.Cluster;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Tests.Cluster;

/// <summary>How the status of the cluster is merged, and when a node's turn in a rolling reload ends, without an ActorSystem.</summary>
public sealed class StatusDecisionsSpecs
{
    private static ClusterMember Member(string host, MemberStatus status = MemberStatus.Up) =>
        new(new Address("akka.tcp", "sys", host, 2551), status, ["core", "edge"], true);

    private static CoordinatorProtocol.NodeStatus Node(params CoordinatorProtocol.ListenerStatus[] listeners) =>
        new(42, DateTimeOffset.UnixEpoch, false, listeners);

    private static CoordinatorProtocol.ListenerStatus Listener(string name, params (int Generation, bool Current, int Open)[] generations) =>
        new(name, "127.0.0.1:1", "tcp", "echo", 1, 100, 0, 0, generations.Max(g => g.Generation),
            generations.Select(g => new CoordinatorProtocol.GenerationStatus(g.Generation, "echo", g.Current, g.Open, null, null)).ToList(), null, []);

    [Fact]
    public void Every_member_must_be_listed_by_address_with_its_answer_or_why_there_is_none()
    {
        var node = Node();
        var members = new[]
        {
            StatusDecisions.Silent(Member("10.0.0.3"), TimeSpan.FromMilliseconds(2500)),
            StatusDecisions.Unreachable(Member("10.0.0.2", MemberStatus.Leaving)),
            StatusDecisions.Answered(Member("10.0.0.1"), new ClusterListeners.NodeStatusReply(node, "in sync")),
        };

        var status = StatusDecisions.Merge("self", null, [ClusterListener.New("api")], members, "removed at 12:00");

        Assert.Equal(["10.0.0.1", "10.0.0.2", "10.0.0.3"], status.Members.Select(m => new Uri(m.Address.Replace("akka.tcp", "tcp")).Host));
        var (answered, unreachable) = (status.Members[0], status.Members[1]);
        Assert.Equal(["core", "edge"], answered.Roles);
        Assert.Equal(("akka.tcp://sys@10.0.0.1:2551", "Up", true, node, "in sync", (string?)null),
            (answered.Address, answered.Status, answered.Reachable, answered.Node, answered.Following, answered.Error));
        Assert.Equal(("akka.tcp://sys@10.0.0.2:2551", "Leaving", false, (CoordinatorProtocol.NodeStatus?)null, (string?)null, "unreachable"),
            (unreachable.Address, unreachable.Status, unreachable.Reachable, unreachable.Node, unreachable.Following, unreachable.Error));
        Assert.Equal("no answer within 2.5s", status.Members[2].Error);
        Assert.True(status.Members[2].Reachable);
        Assert.Equal("removed at 12:00", status.Removed);
        Assert.Equal("api", Assert.Single(status.Desired).Name);
    }

    [Fact]
    public void A_nodes_turn_must_wait_for_the_old_generations_of_the_reloaded_listeners_only()
    {
        var reloaded = new CoordinatorProtocol.Reloaded([new CoordinatorProtocol.ListenerGeneration("api", 3)]);

        Assert.Equal(5, NodeReloadActor.OldConnections(Node(Listener("api", (3, true, 7), (2, false, 4), (1, false, 1)), Listener("other", (1, false, 9))), reloaded));
        Assert.Equal(0, NodeReloadActor.OldConnections(Node(Listener("api", (3, true, 7)), Listener("other", (1, false, 9))), reloaded));
    }

    [Fact]
    public void A_reload_the_coordinator_refuses_must_fail_the_turn_with_its_reason()
    {
        var refused = new Status.Failure(new CommandFailedException(new CoordinatorProtocol.Reload("api"), "the node is draining"));

        Assert.Equal("the node is draining", NodeReloadActor.Refused(refused).Reason);
        Assert.Equal("unexpected answer String", NodeReloadActor.Refused("hello").Reason);
    }
}
