using System.Net.Sockets;
using ShardRuntime.Runtime.Sockets.Readiness;

namespace ShardRuntime.Actors.Connections;

/// <summary>
/// A stream connection's raw bytes: non-blocking recv()/send() on its descriptor (<see cref="SocketIo"/>), and when the
/// socket has no data or no room, a wait on the shard's I/O loop (<see cref="ReadinessEngine"/>, registered at the first
/// such wait), as the loop path waits; no .NET socket operation is queued on it. Each read and write is counted for the
/// shard and as activity for the idle timeout. It owns nothing: disposing it closes nothing (the connection's actor
/// closes the socket, after <see cref="Unregister"/>). A socket error (a reset) or an abort tells the connection it is
/// gone (<see cref="StreamConnectionState.Gone"/>, which cancels <see cref="Runtime.Connections.IStreamConnection.Aborted"/>)
/// before it is thrown, so the runtime can tell a peer that went away from a handler that failed.
/// </summary>
/// <remarks>
/// Where code resumes after a wait is the connection's choice (<see cref="ResumeOnLoop"/>): a span handler (written for
/// the I/O loop: it never blocks) resumes on the loop that saw the socket ready, so a request is read, decrypted,
/// answered, encrypted and sent in one pass on that thread, as nginx's workers do (its TLS handshake too, when that is
/// CPU work only); an async handler, and a handshake that builds a client certificate's chain, resume on the thread
/// pool (<see cref="StreamConnectionRunner"/> decides). Every system call holds the socket's handle
/// (<see cref="System.Runtime.InteropServices.SafeHandle.DangerousAddRef"/>), so a close by the actor meanwhile can never
/// let the descriptor's number, reused by another accept, be read or written here.
/// </remarks>
internal sealed class ConnectionSocketStream : Stream, IReadinessListener
{
    private readonly StreamConnectionState _connection;
    private readonly SocketWaiter _reading = new();
    private readonly SocketWaiter _writing = new();
    private ReadinessRegistration? _registration;
    private bool _unregistered;
    private bool _resumeOnLoop;

    public ConnectionSocketStream(StreamConnectionState connection)
    {
        _connection = connection;
        connection.Aborted.UnsafeRegister(static state => ((ConnectionSocketStream)state!).OnAborted(), this);
    }

    /// <summary>After a wait, resume on the I/O loop (true: span handlers) or on the thread pool (false, the start).</summary>
    public bool ResumeOnLoop
    {
        get => Volatile.Read(ref _resumeOnLoop);
        set => Volatile.Write(ref _resumeOnLoop, value);
    }

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_registration is null)
        {
            // Before any wait: a read that finds data needs no registration (a client's first bytes are often there).
            var n = Receive(buffer.Span, out var error);
            if (n >= 0) return new ValueTask<int>(n);
            if (error != SocketError.WouldBlock) return ValueTask.FromException<int>(_connection.Gone(new SocketException((int)error)));
        }
        return ReadWaitingAsync(buffer, cancellationToken);
    }

    private async ValueTask<int> ReadWaitingAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (true)
        {
            var registration = Registration();
            var seen = registration.ReadEdges;
            var n = Receive(buffer.Span, out var error);
            if (n >= 0) return n;
            if (error != SocketError.WouldBlock) throw _connection.Gone(new SocketException((int)error));
            ThrowUnlessReady(await WaitAsync(_reading, registration, seen, cancellationToken).ConfigureAwait(false), cancellationToken);
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            var registration = _registration;
            var seen = registration?.WriteEdges ?? 0;
            var n = Send(buffer.Span, out var error);
            if (n >= 0)
            {
                buffer = buffer[n..];
                continue;
            }
            if (error != SocketError.WouldBlock) throw _connection.Gone(new SocketException((int)error));
            if (registration is null)
            {
                Registration(); // registered after the try: send again with the edge count from now on
                continue;
            }
            // The kernel's send buffer is full: the peer's reading paces the writer (backpressure).
            ThrowUnlessReady(await WaitAsync(_writing, registration, seen, cancellationToken).ConfigureAwait(false), cancellationToken);
        }
    }

    /// <summary>
    /// After this side's FIN: reads and drops what the peer still sends until its FIN, a reset, an abort or
    /// <paramref name="linger"/>, so unread bytes do not turn the close into a reset that could destroy the last reply.
    /// None of these ends is an exception: a client that resets rather than closes is common (one that closes with the
    /// TLS close_notify unread resets), and a thrown exception per connection costs more than a small request.
    /// </summary>
    public async Task DrainAsync(TimeSpan linger)
    {
        using var deadline = new CancellationTokenSource(linger);
        var discard = new byte[256];
        while (true)
        {
            var registration = Registration();
            var seen = registration.ReadEdges;
            var n = Receive(discard, out var error);
            if (n > 0) continue;
            if (n == 0 || error != SocketError.WouldBlock) return; // the peer's FIN, a reset, the socket closed
            if (await WaitAsync(_reading, registration, seen, deadline.Token).ConfigureAwait(false) != SocketWaitResult.Ready)
                return; // linger-timeout, or aborted
        }
    }

    /// <summary>
    /// Leaves the I/O loop, before the socket is closed (<paramref name="closing"/>: the close takes it out of epoll) or
    /// handed over. From then on a wait is an abort. Idempotent.
    /// </summary>
    public void Unregister(bool closing)
    {
        ReadinessRegistration? registration;
        lock (_reading)
        {
            _unregistered = true;
            registration = _registration;
            _registration = null;
        }
        if (registration is null) return;
        if (closing) registration.ReleaseForClose();
        else registration.Dispose();
    }

    /// <summary>
    /// Waits with <paramref name="waiter"/> (<see cref="_reading"/> or <see cref="_writing"/>) for the next edge of its
    /// direction after <paramref name="seenEdges"/>. The wait begins before the registration is armed, so a signal from
    /// the loop in between is never lost; an edge that came before the arm ends the wait at once (try again now).
    /// </summary>
    private ValueTask<SocketWaitResult> WaitAsync(SocketWaiter waiter, ReadinessRegistration registration, int seenEdges, CancellationToken cancellationToken)
    {
        var wait = waiter.WaitAsync(ResumeOnLoop, cancellationToken);
        if (_connection.IsAborted) waiter.End(SocketWaitResult.Aborted); // aborted before this wait began
        else if (!(ReferenceEquals(waiter, _reading) ? registration.ArmRead(seenEdges) : registration.ArmWrite(seenEdges)))
            waiter.Signal(); // data or room came in between
        return wait;
    }

    private void ThrowUnlessReady(SocketWaitResult result, CancellationToken cancellationToken)
    {
        if (result == SocketWaitResult.Cancelled) throw new OperationCanceledException(cancellationToken);
        if (result == SocketWaitResult.Aborted) throw Aborted();
    }

    /// <summary>The socket's registration with the shard's loop, made at the first wait; an abort once the socket left the loop.</summary>
    private ReadinessRegistration Registration()
    {
        if (Volatile.Read(ref _registration) is { } registration) return registration;
        lock (_reading)
        {
            if (_unregistered) throw Aborted();
            return _registration ??= _connection.Shard.Loop.Register((int)_connection.Handle.DangerousGetHandle(), this, this);
        }
    }

    /// <summary>
    /// recv() into <paramref name="buffer"/>: the bytes read, 0 at the peer's FIN, or -1 with the error. A zero-byte
    /// read (SslStream and pipe readers ask one to wait for data without holding a buffer) only looks whether data is
    /// there: 0 when it is or at the FIN, -1 (would block) when not, so it waits like any read.
    /// </summary>
    private int Receive(Span<byte> buffer, out SocketError error)
    {
        var handle = _connection.Handle;
        var held = false;
        try
        {
            handle.DangerousAddRef(ref held);
            var fd = (int)handle.DangerousGetHandle();
            if (buffer.IsEmpty) return SocketIo.Peek(fd, out error) >= 0 ? 0 : -1;
            var n = SocketIo.Receive(fd, buffer, out error);
            if (n > 0) _connection.Received(n);
            return n;
        }
        catch (ObjectDisposedException)
        {
            error = SocketError.OperationAborted; // the actor closed it
            return -1;
        }
        finally
        {
            if (held) handle.DangerousRelease();
        }
    }

    private int Send(ReadOnlySpan<byte> buffer, out SocketError error)
    {
        var handle = _connection.Handle;
        var held = false;
        try
        {
            handle.DangerousAddRef(ref held);
            var n = SocketIo.Send((int)handle.DangerousGetHandle(), buffer, out error);
            if (n > 0) _connection.Sent(n);
            return n;
        }
        catch (ObjectDisposedException)
        {
            error = SocketError.OperationAborted;
            return -1;
        }
        finally
        {
            if (held) handle.DangerousRelease();
        }
    }

    private IOException Aborted() => _connection.Gone(new SocketException((int)SocketError.OperationAborted));

    private void OnAborted()
    {
        _reading.End(SocketWaitResult.Aborted);
        _writing.End(SocketWaitResult.Aborted);
    }

    void IReadinessListener.OnReadable(object? state) => Ready(_reading);

    void IReadinessListener.OnWritable(object? state) => Ready(_writing);

    /// <summary>On the loop's thread: resume the waiting code there (after the events in hand), or wake it on the thread pool.</summary>
    private void Ready(SocketWaiter waiter)
    {
        if (ResumeOnLoop) _connection.Shard.Loop.Post(static w => ((SocketWaiter)w!).Signal(), waiter);
        else waiter.Signal();
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    // The synchronous members block a thread-pool thread: handlers should await. They exist for code that insists.
    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
