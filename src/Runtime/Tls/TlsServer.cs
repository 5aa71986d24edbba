namespace ShardRuntime.Runtime.Tls;

/// <summary>
/// A TLS listener's server side, shared by all its shards and connections: the current material (swapped at a reload,
/// <see cref="Swap"/>, which changes only handshakes that start after it; connections that shook hands before keep
/// theirs), the per-connection handshake (<see cref="HandshakeAsync"/>), its counters and the rate of its failure log.
/// Thread-safe.
/// </summary>
public sealed class TlsServer
{
    private TlsMaterial _current;

    /// <summary>Serves <paramref name="material"/> (loaded with <see cref="TlsMaterial.Load"/>) for the listener named <paramref name="listener"/>.</summary>
    public TlsServer(string listener, TlsMaterial material, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(material);
        Listener = listener;
        _current = material;
        FailureLog = new TlsFailureLog(material.Options.FailureLogInterval, material.Options.FailureLogBurst, time);
    }

    /// <summary>The listener's name, for logs.</summary>
    public string Listener { get; }

    /// <summary>The material new handshakes use.</summary>
    public TlsMaterial Current => Volatile.Read(ref _current);

    /// <summary>The listener's handshakes by outcome (for status).</summary>
    public TlsHandshakeCounters Counters { get; } = new();

    /// <summary>The rate limit of the failure log (its <see cref="TlsFailureLog.Tick"/> is for the caller's periodic timer).</summary>
    public TlsFailureLog FailureLog { get; }

    /// <summary>
    /// Makes <paramref name="next"/> the material of every handshake that starts from now on, and returns the one it
    /// replaces. Connections that shook hands with the old material keep it: it is not disposed (the garbage collector
    /// takes it once the last of them is gone).
    /// </summary>
    public TlsMaterial Swap(TlsMaterial next)
    {
        ArgumentNullException.ThrowIfNull(next);
        return Interlocked.Exchange(ref _current, next);
    }

    /// <summary>
    /// The handshake of one new connection over <paramref name="inner"/> with the current material (see
    /// <see cref="TlsHandshake.RunAsync"/>), counted, and for a failure the log decision: log it when
    /// <see cref="TlsFailureLogDecision.Write"/>, and first a summary line when <see cref="TlsFailureLogDecision.SuppressedBefore"/>
    /// is not 0. A handshake cancelled by the node is counted, never logged. Never throws for what a client does.
    /// </summary>
    public async Task<TlsHandshakeResult> HandshakeAsync(Stream inner, CancellationToken cancel)
    {
        var result = await TlsHandshake.RunAsync(Current, inner, cancel).ConfigureAwait(false);
        Counters.Count(result.Failure);
        return result.Failure is TlsHandshakeFailure.None or TlsHandshakeFailure.Cancelled
            ? result
            : result with { Log = FailureLog.OnFailure() };
    }

    /// <summary>
    /// <see cref="HandshakeAsync"/> in the shape of a connection stream layer (<c>WrapAsync</c>): the authenticated
    /// stream, or a <see cref="TlsHandshakeException"/> carrying the classified failure and its log decision (the caller
    /// logs it when <see cref="TlsFailureLogDecision.Write"/> says so). <paramref name="inner"/> stays the caller's.
    /// </summary>
    public async ValueTask<Stream> WrapAsync(Stream inner, CancellationToken cancel)
    {
        var result = await HandshakeAsync(inner, cancel).ConfigureAwait(false);
        return result.Stream ?? throw new TlsHandshakeException(Listener, result);
    }
}
