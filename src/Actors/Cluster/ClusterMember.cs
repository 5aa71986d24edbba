using Akka.Actor;
using Akka.Cluster;

namespace ShardRuntime.Actors.Cluster;

/// <summary>
/// One cluster member as the cluster actors' decisions see it: a plain snapshot of Akka's membership, so that the
/// decisions are pure functions of values (and tests build members without an ActorSystem).
/// </summary>
/// <param name="Address">The member's address (its cluster actor is at <c>/user/shard-runtime-cluster</c> there).</param>
/// <param name="Status">Akka's member status (Joining, WeaklyUp, Up, Leaving, ...).</param>
/// <param name="Roles">Its roles, in ordinal order.</param>
/// <param name="Reachable">False when the failure detector marks it unreachable from this node.</param>
internal sealed record ClusterMember(Address Address, MemberStatus Status, IReadOnlyList<string> Roles, bool Reachable)
{
    /// <summary>Every member of <paramref name="state"/>, ordered by address.</summary>
    public static IReadOnlyList<ClusterMember> Of(ClusterEvent.CurrentClusterState state) =>
        state.Members
            .Select(m => new ClusterMember(m.Address, m.Status, m.Roles.Order(StringComparer.Ordinal).ToList(), !state.Unreachable.Contains(m)))
            .OrderBy(m => m.Address.ToString(), StringComparer.Ordinal)
            .ToList();

    /// <summary>Addresses as one comma-separated line, for refusals and logs.</summary>
    public static string List(IEnumerable<ClusterMember> members) => string.Join(", ", members.Select(m => m.Address.ToString()));
}
