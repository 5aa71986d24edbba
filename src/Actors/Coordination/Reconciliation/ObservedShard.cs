namespace ShardRuntime.Actors.Coordination.Reconciliation;

/// <summary>One shard of a listener as the executor sees it.</summary>
/// <param name="ShardId">Its id, unique per listener name for the life of the node (it names the shard actor).</param>
/// <param name="Inode">The kernel's inode of its listening socket (refusals name it).</param>
/// <param name="Retiring">It was told to retire: it no longer counts as accepting, it drains and then closes.</param>
/// <param name="Pinned">Another process that never lets go holds its socket too (systemd, for socket activation).</param>
internal sealed record ObservedShard(int ShardId, long Inode, bool Retiring = false, bool Pinned = false)
{
    /// <summary>Whether a retirement may take it: an accepting shard, pinned only when the node drains.</summary>
    public bool Retirable(bool draining) => !Retiring && (!Pinned || draining);
}
