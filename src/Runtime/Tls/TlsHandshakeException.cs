namespace ShardRuntime.Runtime.Tls;

/// <summary>
/// A connection's TLS handshake failed (<see cref="TlsServer.WrapAsync"/>): it ends that connection only. Carries the
/// classified outcome, with whether to log it (<see cref="TlsHandshakeResult.Log"/>): a flood of bad handshakes is
/// counted, not logged line by line.
/// </summary>
public sealed class TlsHandshakeException : Exception
{
    /// <summary>Creates the exception for the failed <paramref name="result"/> of listener <paramref name="listener"/>.</summary>
    public TlsHandshakeException(string listener, TlsHandshakeResult result)
        : base($"TLS handshake on listener '{listener}' failed ({result.Failure}) after {result.Elapsed.TotalMilliseconds:0} ms: {result.Detail}")
    {
        Listener = listener;
        Result = result;
    }

    /// <summary>The listener whose handshake failed.</summary>
    public string Listener { get; }

    /// <summary>How it failed, and the log decision for it.</summary>
    public TlsHandshakeResult Result { get; }
}
