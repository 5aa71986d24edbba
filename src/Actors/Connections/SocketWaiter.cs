using System.Threading.Tasks.Sources;

namespace ShardRuntime.Actors.Connections;

/// <summary>How a wait of a <see cref="SocketWaiter"/> ended.</summary>
internal enum SocketWaitResult
{
    /// <summary>The readiness engine saw the socket ready (or failed): try the operation again.</summary>
    Ready,

    /// <summary>The caller's token was cancelled.</summary>
    Cancelled,

    /// <summary>The connection was aborted (its actor closes the socket).</summary>
    Aborted,
}

/// <summary>
/// One direction (receive or send) of a stream connection waiting for its socket: a reusable awaitable that the readiness
/// engine (<see cref="Signal"/>), the caller's token or the connection's abort ends, whichever comes first, with no
/// exception for any of them. One wait at a time. Where the waiter's continuation runs is chosen per wait: on the thread
/// that ends it (the I/O loop, for a span handler, which is written for the loop) or on the thread pool (an async
/// handler, whose code may take its time).
/// </summary>
internal sealed class SocketWaiter : IValueTaskSource<SocketWaitResult>
{
    private const int Idle = 0;
    private const int Waiting = 1;
    private const int Done = 2;

    private ManualResetValueTaskSourceCore<SocketWaitResult> _core;
    private CancellationTokenRegistration _cancel;
    private int _state;

    /// <summary>Whether a wait is pending (the connection's abort ends it).</summary>
    public bool IsWaiting => Volatile.Read(ref _state) == Waiting;

    /// <summary>
    /// Starts a wait (after the readiness registration was armed). <paramref name="inline"/>: the continuation runs on the
    /// thread that ends the wait; otherwise on the thread pool.
    /// </summary>
    public ValueTask<SocketWaitResult> WaitAsync(bool inline, CancellationToken cancellationToken)
    {
        _core.Reset();
        _core.RunContinuationsAsynchronously = !inline;
        Volatile.Write(ref _state, Waiting);
        if (cancellationToken.CanBeCanceled)
            _cancel = cancellationToken.UnsafeRegister(static state => ((SocketWaiter)state!).End(SocketWaitResult.Cancelled), this);
        return new ValueTask<SocketWaitResult>(this, _core.Version);
    }

    /// <summary>Ends the pending wait (if any) with <paramref name="result"/>; the first end wins.</summary>
    public void End(SocketWaitResult result)
    {
        if (Interlocked.CompareExchange(ref _state, Done, Waiting) == Waiting) _core.SetResult(result);
    }

    /// <summary>The readiness engine's news: the socket is ready.</summary>
    public void Signal() => End(SocketWaitResult.Ready);

    SocketWaitResult IValueTaskSource<SocketWaitResult>.GetResult(short token)
    {
        // Unregister, not Dispose: Dispose would wait for a cancellation callback that is running this very continuation.
        _cancel.Unregister();
        _cancel = default;
        var result = _core.GetResult(token);
        Volatile.Write(ref _state, Idle);
        return result;
    }

    ValueTaskSourceStatus IValueTaskSource<SocketWaitResult>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<SocketWaitResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
