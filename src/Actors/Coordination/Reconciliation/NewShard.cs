using ShardRuntime.Runtime.Upgrade;

namespace ShardRuntime.Actors.Coordination.Reconciliation;

/// <summary>A shard to start: its id, and the inherited socket it takes, or null for the next socket its listener's bind made.</summary>
internal sealed record NewShard(int ShardId, SocketLabel? Adopted = null)
{
    /// <summary>Its socket is held by systemd too: it never retires while the node runs.</summary>
    public bool Pinned => Adopted?.Pinned ?? false;

    /// <inheritdoc />
    public override string ToString() => Adopted is { } label ? $"{ShardId}=inode {label.Inode}{(label.Pinned ? " pinned" : "")}" : $"{ShardId}";
}
