using Akka.Actor;
using ShardRuntime.Actors.Settings;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Cluster;

/// <summary>
/// Protocol of the cluster actor (<c>/user/shard-runtime-cluster</c>, one per node): it keeps the cluster-wide desired
/// state of listeners (<see cref="ClusterListener"/>, replicated with Akka.DistributedData), makes this node's
/// coordinator follow it, and carries the changes, the cluster status and rolling reloads that operators and code ask
/// of any node. Registered in the ActorRegistry under <see cref="Marker"/>.
/// </summary>
public static class ClusterListeners
{
    /// <summary>Name of the actor under /user, the same on every node (nodes address each other's by it).</summary>
    public const string ActorName = "shard-runtime-cluster";

    /// <summary>Marker type under which the cluster actor is registered in Akka.Hosting's ActorRegistry.</summary>
    public sealed class Marker
    {
        private Marker() { }
    }

    /// <summary>Props of the cluster actor; <paramref name="coordinator"/> is this node's coordinator.</summary>
    public static Props Props(ShardRuntimeSettings settings, IActorRef coordinator) =>
        Akka.Actor.Props.Create(() => new ClusterListenersActor(settings, coordinator));

    /// <summary>Marker of the commands an operator or code sends to a cluster actor (the control socket routes these to it).</summary>
    public interface ICommand;

    /// <summary>
    /// Sender: the CLI (<c>scale LISTENER N --cluster [--role ROLE]</c>), user code. Sets the listener's shards per node
    /// in the desired state: on every node (which drops per-role counts), or on the nodes of <paramref name="Role"/> only.
    /// Refused when fewer than a majority of the nodes are reachable (nothing is written), for a listener neither this
    /// node nor the desired state knows, and for a removed one. Reply: <see cref="ListenerChanged"/> once a majority
    /// stored it, or Status.Failure(<see cref="Coordination.CommandFailedException"/>).
    /// </summary>
    public sealed record ScaleListener(string Listener, int Shards, string? Role = null) : ICommand;

    /// <summary>
    /// Sender: the CLI (<c>listener set</c>), user code. Sets what is given of a listener in the desired state (null
    /// leaves it as it is): its HOCON definition (validated here first), shards per node, the roles that serve it (an
    /// empty list: every node); <paramref name="Reload"/> raises its handler generation, so every node reloads it at
    /// once. A removed listener comes back. Reply: <see cref="ListenerChanged"/> or Status.Failure(<see cref="Coordination.CommandFailedException"/>).
    /// </summary>
    public sealed record SetListener(
        string Listener, string? Definition = null, int? Shards = null, IReadOnlyList<string>? Roles = null, bool Reload = false) : ICommand;

    /// <summary>
    /// Sender: the CLI (<c>listener remove</c>), user code. Marks the listener removed cluster-wide: every node retires
    /// it (its file notwithstanding) until it is set again. Reply: <see cref="ListenerChanged"/> or Status.Failure(<see cref="Coordination.CommandFailedException"/>).
    /// </summary>
    public sealed record RemoveListener(string Listener) : ICommand;

    /// <summary>Reply to a change: the listener as now stored, by how many nodes it was confirmed (<c>all</c> or <c>majority</c> of <paramref name="Nodes"/>).</summary>
    public sealed record ListenerChanged(ClusterListener Listener, string StoredBy, int Nodes);

    /// <summary>Sender: the CLI (<c>listener show</c>), user code. Reply: <see cref="DesiredState"/> as this node holds it.</summary>
    public sealed class GetDesiredState : ICommand
    {
        /// <summary>The one instance (the message carries no data).</summary>
        public static readonly GetDesiredState Instance = new();
        private GetDesiredState() { }
    }

    /// <summary>
    /// Sender: the host, before it says the node serves. Reply: <see cref="Following"/> once the node has joined, read
    /// the desired state and applied it (to the extent it could) for the first time. No timeout here: the asker bounds it.
    /// </summary>
    public sealed class WaitUntilFollowing : ICommand
    {
        /// <summary>The one instance (the message carries no data).</summary>
        public static readonly WaitUntilFollowing Instance = new();
        private WaitUntilFollowing() { }
    }

    /// <summary>Reply to <see cref="WaitUntilFollowing"/>: <paramref name="State"/> is <c>in sync</c> or what the node cannot follow.</summary>
    public sealed record Following(string State);

    /// <summary>Reply to <see cref="GetDesiredState"/>: every listener the desired state holds, by name.</summary>
    public sealed record DesiredState(IReadOnlyList<ClusterListener> Listeners);

    /// <summary>
    /// Sender: the CLI (<c>status --cluster</c>), user code. Asks every member for its status (each within
    /// <c>cluster.status-timeout</c>). Reply: <see cref="ClusterStatus"/>.
    /// </summary>
    public sealed class GetClusterStatus : ICommand
    {
        /// <summary>The one instance (the message carries no data).</summary>
        public static readonly GetClusterStatus Instance = new();
        private GetClusterStatus() { }
    }

    /// <summary>Reply to <see cref="GetClusterStatus"/>: the cluster as this node sees it, and every member's answer.</summary>
    /// <param name="SelfAddress">The node that answered.</param>
    /// <param name="Leader">The cluster leader, if any.</param>
    /// <param name="Desired">The desired state as this node holds it.</param>
    /// <param name="Members">Every member, unreachable ones marked.</param>
    /// <param name="Removed">Set when this node itself was downed (removed from the cluster): it serves on, alone.</param>
    public sealed record ClusterStatus(
        string SelfAddress, string? Leader, IReadOnlyList<ClusterListener> Desired, IReadOnlyList<MemberStatus> Members, string? Removed = null);

    /// <summary>One member: its cluster state and, when it answered, its node status and how far it follows the desired state.</summary>
    /// <param name="Address">The member's address.</param>
    /// <param name="Roles">Its cluster roles.</param>
    /// <param name="Status">Akka's member status (Up, Joining, Leaving, ...).</param>
    /// <param name="Reachable">False when the failure detector marks it unreachable from here (it was not asked).</param>
    /// <param name="Node">Its node status; null when unreachable or silent.</param>
    /// <param name="Following">How it follows the desired state: <c>in sync</c>, or what stops it.</param>
    /// <param name="Error">Why there is no status (no answer within the timeout, ...).</param>
    public sealed record MemberStatus(
        string Address, IReadOnlyList<string> Roles, string Status, bool Reachable,
        CoordinatorProtocol.NodeStatus? Node, string? Following, string? Error);

    /// <summary>
    /// Sender: the CLI (<c>reload [LISTENER] --cluster</c>), user code. Reloads node after node (ordered by address):
    /// each reloads (<see cref="CoordinatorProtocol.Reload"/>) and then waits until its old generations' connections
    /// have drained; the next node starts only after that. Stops at the first node that fails and says which. Refused
    /// while another runs or when a member is unreachable. For one listener it then raises the listener's handler
    /// generation in the desired state. Reply: <see cref="RollingReloadReport"/> (<c>Completed</c> false on a failure).
    /// </summary>
    public sealed record RollingReload(string? Listener) : ICommand;

    /// <summary>Reply to <see cref="RollingReload"/>: what happened on each node, in order.</summary>
    public sealed record RollingReloadReport(string? Listener, bool Completed, IReadOnlyList<NodeReloadStep> Nodes, string? Failure);

    /// <summary>One node of a rolling reload: <c>reloaded</c>, <c>not served</c> (it does not serve the listener), <c>failed</c>, <c>unfinished</c> (the whole reload timed out during its turn) or <c>not started</c>.</summary>
    public sealed record NodeReloadStep(string Address, string Outcome, IReadOnlyList<CoordinatorProtocol.ListenerGeneration> Generations, double? Seconds, string? Reason);

    /// <summary>Sender: a cluster actor (status of the cluster). Reply: <see cref="NodeStatusReply"/>.</summary>
    internal sealed class GetNodeStatus : IClusterMessage
    {
        public static readonly GetNodeStatus Instance = new();
        private GetNodeStatus() { }
    }

    /// <summary>Reply to <see cref="GetNodeStatus"/>: the node's coordinator status and how it follows the desired state.</summary>
    internal sealed record NodeStatusReply(CoordinatorProtocol.NodeStatus Node, string Following) : IClusterMessage;

    /// <summary>
    /// Sender: the rolling reload of another node (or this one). Reload (one listener, or the configuration and every
    /// listener), then wait for the old generations to drain; <paramref name="Generation"/> is the listener's new
    /// cluster-wide handler generation. Reply: <see cref="NodeReloaded"/> or <see cref="NodeReloadFailed"/>.
    /// </summary>
    internal sealed record ReloadNode(string? Listener, int? Generation) : IClusterMessage;

    /// <summary>
    /// Reply to <see cref="ReloadNode"/>: the new generation serves and the old ones drained; or, with
    /// <paramref name="Served"/> false, the node does not serve the listener (its roles, its file) and had nothing to do.
    /// </summary>
    internal sealed record NodeReloaded(IReadOnlyList<CoordinatorProtocol.ListenerGeneration> Generations, double Seconds, bool Served = true) : IClusterMessage;

    /// <summary>Reply to <see cref="ReloadNode"/>: why the node did not reload, or did not drain in time.</summary>
    internal sealed record NodeReloadFailed(string Reason, IReadOnlyList<CoordinatorProtocol.ListenerGeneration> Generations) : IClusterMessage;
}
