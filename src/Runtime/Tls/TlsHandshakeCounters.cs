namespace ShardRuntime.Runtime.Tls;

/// <summary>
/// Counts a TLS listener's handshakes by outcome. Thread-safe: handshakes of every shard count here at once; reading
/// (<see cref="Snapshot"/>) never blocks them.
/// </summary>
public sealed class TlsHandshakeCounters
{
    private readonly long[] _counts = new long[Enum.GetValues<TlsHandshakeFailure>().Length];

    /// <summary>Counts one handshake that ended as <paramref name="outcome"/> (<see cref="TlsHandshakeFailure.None"/>: succeeded).</summary>
    public void Count(TlsHandshakeFailure outcome) => Interlocked.Increment(ref _counts[(int)outcome]);

    /// <summary>The counts so far.</summary>
    public TlsHandshakeCounts Snapshot() => new(
        Read(TlsHandshakeFailure.None), Read(TlsHandshakeFailure.Timeout), Read(TlsHandshakeFailure.PeerClosed),
        Read(TlsHandshakeFailure.Protocol), Read(TlsHandshakeFailure.ClientCertificateMissing),
        Read(TlsHandshakeFailure.ClientCertificateRejected), Read(TlsHandshakeFailure.Cancelled), Read(TlsHandshakeFailure.Other));

    private long Read(TlsHandshakeFailure outcome) => Interlocked.Read(ref _counts[(int)outcome]);
}
