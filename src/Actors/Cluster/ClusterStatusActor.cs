using Akka.Actor;
using Akka.DistributedData;

namespace ShardRuntime.Actors.Cluster;

/// <summary>
/// Answers <c>status --cluster</c> (child <c>status</c> of the cluster actor): asks every reachable member's cluster actor
/// for its status (<see cref="ClusterListeners.GetNodeStatus"/>, each within <c>cluster.status-timeout</c>), lists the
/// unreachable ones without asking, and merges the answers with this node's view of the cluster and of the desired state.
/// </summary>
internal sealed class ClusterStatusActor : UntypedActor
{
    private readonly TimeSpan _timeout;
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly IActorRef _replicator = DistributedData.Get(Context.System).Replicator;
    private string? _removed;

    public ClusterStatusActor(TimeSpan timeout) => _timeout = timeout;

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case ClusterListeners.GetClusterStatus:
                var state = _cluster.State;
                var asked = new Asked(Sender, _cluster.SelfAddress.ToString(), state.Leader?.ToString(), ClusterMember.Of(state), _removed);
                _replicator.Tell(Dsl.Get(ClusterListenersActor.Key, ReadLocal.Instance, asked));
                break;
            case IGetResponse { Request: Asked request } read:
                var desired = read is GetSuccess found ? FollowDecisions.Sorted(found.Get(ClusterListenersActor.Key)) : [];
                var answers = request.Members.Select(m => m.Reachable ? AskAsync(Context.ActorSelection(PathOf(m)), m, _timeout) : Task.FromResult(StatusDecisions.Unreachable(m)));
                Task.WhenAll(answers).PipeTo(request.ReplyTo, success: members => StatusDecisions.Merge(request.Self, request.Leader, desired, members, request.Removed));
                break;
            case ClusterListenersActor.NodeRemoved removed:
                _removed = removed.Reason;
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private static ActorPath PathOf(ClusterMember member) => new RootActorPath(member.Address) / "user" / ClusterListeners.ActorName;

    private static async Task<ClusterListeners.MemberStatus> AskAsync(ActorSelection selection, ClusterMember member, TimeSpan timeout)
    {
        try
        {
            var answer = await selection.Ask<ClusterListeners.NodeStatusReply>(ClusterListeners.GetNodeStatus.Instance, timeout).ConfigureAwait(false);
            return StatusDecisions.Answered(member, answer);
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
        {
            return StatusDecisions.Silent(member, timeout);
        }
    }

    /// <summary>Request context of the replica read for a status: who asked, and the cluster as this node saw it then.</summary>
    private sealed record Asked(IActorRef ReplyTo, string Self, string? Leader, IReadOnlyList<ClusterMember> Members, string? Removed);
}
