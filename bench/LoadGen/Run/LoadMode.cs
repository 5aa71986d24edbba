namespace ShardRuntime.LoadGen.Run;

/// <summary>
/// Which load a run generates; <see cref="Both"/> runs churn and keep-alive side by side. <see cref="Udp"/> is a mode
/// of its own (datagrams, not connections) and combines with neither.
/// </summary>
[Flags]
public enum LoadMode
{
    /// <summary>Every request on a new TCP connection (connect, send, read the full reply, close), paced open-loop.</summary>
    Churn = 1,

    /// <summary>A fixed set of long-lived connections, each with up to <c>pipeline</c> requests in flight.</summary>
    KeepAlive = 2,

    /// <summary>Churn and keep-alive at once.</summary>
    Both = Churn | KeepAlive,

    /// <summary>Numbered datagrams from a few client sockets (flows), paced open-loop, each answered or lost after the timeout.</summary>
    Udp = 4,
}
