using System.Net;
using ShardRuntime.Actors.Settings;

namespace ShardRuntime.Actors.Coordination.Reconciliation;

/// <summary>One listener incarnation as the executor sees it.</summary>
/// <param name="Id">Its name and incarnation.</param>
/// <param name="Settings">The settings it was created with (a change of only the shard count keeps them: see <paramref name="Desired"/>).</param>
/// <param name="BoundEndPoint">Where its sockets are bound (port 0 resolved), or null before its first socket.</param>
/// <param name="Desired">The shard count it runs for now.</param>
/// <param name="Shards">Its shards, accepting and retiring, in any order.</param>
/// <param name="Retired">
/// It is no longer the listener of its name (removed or replaced); it stays here while shards of it remain (retiring,
/// or still accepting because their retirement was deferred or because they are pinned).
/// </param>
/// <param name="Steered">
/// Its reuseport group carries this node's steering program. False for groups taken over from a predecessor until the
/// take-over completed (the predecessor's program is attached until then).
/// </param>
/// <param name="LoadedAt">When its current handler generation was loaded (created or last reloaded).</param>
internal sealed record ObservedListener(
    ListenerId Id,
    ListenerSettings Settings,
    IPEndPoint? BoundEndPoint,
    int Desired,
    IReadOnlyList<ObservedShard> Shards,
    bool Retired = false,
    bool Steered = true,
    DateTimeOffset LoadedAt = default)
{
    /// <summary>The shards that accept (every one not retiring).</summary>
    public IEnumerable<ObservedShard> Accepting => Shards.Where(s => !s.Retiring);

    /// <summary>How many shards accept.</summary>
    public int ActiveCount => Shards.Count(s => !s.Retiring);
}
