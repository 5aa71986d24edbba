namespace ShardRuntime.Actors.Cluster;

/// <summary>How the status of the cluster is put together (<see cref="ClusterStatusActor"/>), as pure functions.</summary>
internal static class StatusDecisions
{
    /// <summary>A member the failure detector marks unreachable: listed, not asked.</summary>
    public static ClusterListeners.MemberStatus Unreachable(ClusterMember member) =>
        new(member.Address.ToString(), member.Roles, member.Status.ToString(), false, null, null, "unreachable");

    /// <summary>A member that answered: its node status and how it follows the desired state.</summary>
    public static ClusterListeners.MemberStatus Answered(ClusterMember member, ClusterListeners.NodeStatusReply answer) =>
        new(member.Address.ToString(), member.Roles, member.Status.ToString(), true, answer.Node, answer.Following, null);

    /// <summary>A reachable member that did not answer within <paramref name="timeout"/>.</summary>
    public static ClusterListeners.MemberStatus Silent(ClusterMember member, TimeSpan timeout) =>
        new(member.Address.ToString(), member.Roles, member.Status.ToString(), true, null, null, $"no answer within {timeout.TotalSeconds:0.###}s");

    /// <summary>The reply: this node's view (itself, the leader, the desired state, whether it was removed) and every member, by address.</summary>
    public static ClusterListeners.ClusterStatus Merge(
        string self, string? leader, IReadOnlyList<ClusterListener> desired, IEnumerable<ClusterListeners.MemberStatus> members, string? removed) =>
        new(self, leader, desired, members.OrderBy(m => m.Address, StringComparer.Ordinal).ToList(), removed);
}
