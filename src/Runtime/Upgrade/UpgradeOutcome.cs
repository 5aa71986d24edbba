using ShardRuntime.Runtime.Sockets;

namespace ShardRuntime.Runtime.Upgrade;

/// <summary>The end of one <see cref="UpgradeServer.ServeAsync"/>: how it ended, to whom, how far it got and why.</summary>
/// <param name="Result">Completed, refused or rolled back.</param>
/// <param name="Peer">The successor's credentials (SO_PEERCRED), or null when they could not be read.</param>
/// <param name="SocketsPassed">How many sockets the successor acknowledged.</param>
/// <param name="Reason">Why it was refused or rolled back; null when completed.</param>
public sealed record UpgradeOutcome(UpgradeResult Result, PeerCredentials? Peer, int SocketsPassed, string? Reason)
{
    /// <summary>True when the successor took every socket and is ready.</summary>
    public bool IsCompleted => Result == UpgradeResult.Completed;

    /// <summary>Completed: inodes of the passed sockets the successor does not serve; this process retires them.</summary>
    public IReadOnlyList<long> Declined { get; init; } = [];

    /// <summary>
    /// Completed with <see cref="UpgradeServer.HoldAfterRelease"/>: the upgrade connection, still open. The caller
    /// disposes it once this process closed its copies of the sockets (the successor waits for that), or gave up on the successor.
    /// </summary>
    public IDisposable? Link { get; init; }
}
