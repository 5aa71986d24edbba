using System.Net;
using System.Net.Sockets;
using Akka.Actor;

namespace ShardRuntime.Actors.Listener;

/// <summary>
/// One listening socket, its pending accept and the shard's lasting state (retiring, drain deadline, a parked
/// connection), owned by the coordinator's registry rather than by the shard actor. A crash and restart of the
/// actor therefore neither closes the socket nor loses an accept in flight or a retirement in progress: the
/// completion is told to the same actor reference, and a completion that nobody received yet is kept here for the
/// next owner.
/// </summary>
internal sealed class ShardSocket : IDisposable
{
    // Accepts are cancellable (Socket.AcceptAsync with a token), not SocketAsyncEventArgs: .NET closes a socket that
    // still has an operation pending abortively, which sets SO_LINGER {1, 0} on the kernel socket. After a handover
    // that socket is the successor's too, and every connection it accepts would inherit the zero linger (a reset on
    // close). Cancelling first makes the close a plain close() of this process's descriptor.
    private readonly CancellationTokenSource _stop = new();
    private readonly Action _onCompleted;
    private ValueTask<Socket> _pending;
    private Socket? _accepted;
    private SocketError _error;
    private readonly object _gate = new();
    private int _acceptPending;
    private int _inFlight;
    private int _completed;
    private int _disposed;

    public ShardSocket(Socket socket, int shardId)
    {
        Socket = socket;
        ShardId = shardId;
        EndPoint = (IPEndPoint)socket.LocalEndPoint!;
        Inode = Runtime.Sockets.KernelSocketTable.GetInode(socket);
        _onCompleted = () =>
        {
            Complete(_pending);
            Volatile.Write(ref _inFlight, 0);
            // Record first, then tell: a new owner that starts in between finds the result in PreStart.
            Volatile.Write(ref _completed, 1);
            Owner?.Tell(Listener.AcceptCompleted.Instance);
        };
    }

    public Socket Socket { get; }

    public int ShardId { get; }

    /// <summary>The address the socket is bound to (kept, since a closed socket no longer tells).</summary>
    public IPEndPoint EndPoint { get; }

    /// <summary>The kernel's inode of the socket: what <c>ss -e</c> shows, and what stays the same across a handover.</summary>
    public long Inode { get; }

    /// <summary>
    /// Another process (a successor) holds this socket too. Closing then also clears FD_CLOEXEC first, which is how .NET
    /// tells a descriptor shared with other processes and never "unblocks" it with connect(AF_UNSPEC), which would stop
    /// it listening for every holder. Only for a process that starts no child any more (it would inherit the descriptor).
    /// </summary>
    public bool Shared { get; set; }

    /// <summary>Another process that never lets go holds this socket (systemd): it is never retired while the node runs.</summary>
    public bool Pinned { get; set; }

    /// <summary>The shard actor told of accept completions.</summary>
    public IActorRef? Owner { get; set; }

    /// <summary>The shard retires: it accepts no more and stops once its connections are gone.</summary>
    public bool Retiring { get; set; }

    /// <summary>The retiring shard drains its accept queue before closing (new connections are steered away).</summary>
    public bool DrainingQueue { get; set; }

    /// <summary>When the retiring shard stops waiting for its accept queue to stay empty and closes the socket anyway.</summary>
    public DateTime QueueDeadline { get; set; } = DateTime.MaxValue;

    /// <summary>How many SteeringChanged the shard has heard of (kept here, so that it outlives a restart of the shard actor).</summary>
    public int SteeringChangesSeen { get; set; }

    /// <summary>When the last connection was accepted (or steering last changed): the start of the quiet period.</summary>
    public DateTime QuietSince { get; set; } = DateTime.MinValue;

    /// <summary>The shard asked the coordinator to close the socket and waits for <see cref="Listener.SocketClosed"/>.</summary>
    public bool CloseRequested { get; set; }

    /// <summary>Connections accepted while the retiring shard drained its queue.</summary>
    public int DrainedFromQueue { get; set; }

    /// <summary>When a retiring shard aborts the connections it still has.</summary>
    public DateTime DrainDeadline { get; set; } = DateTime.MaxValue;

    /// <summary>At the drain deadline, close connections gracefully first and abort only after the linger time (see <see cref="Listener.Retire"/>).</summary>
    public bool GracefulDeadline { get; set; }

    /// <summary>The graceful close was asked of every connection; the next deadline aborts.</summary>
    public bool GracefulCloseSent { get; set; }

    /// <summary>
    /// The shard's connections, for its sweep (idle timeouts, linger deadlines): one periodic timer per shard rather
    /// than timers per connection. Finished ones are dropped by the sweep.
    /// </summary>
    internal List<Connection.ConnectionState> Connections { get; } = new();

    /// <summary>A connection accepted when the listener was full, waiting for a slot (at most one per shard).</summary>
    public Socket? Parked { get; set; }

    public bool AcceptPending => Volatile.Read(ref _acceptPending) == 1;

    /// <summary>An accept completed asynchronously and its result was not taken yet.</summary>
    public bool CompletionReady => Volatile.Read(ref _completed) == 1;

    public bool IsDisposed => Volatile.Read(ref _disposed) == 1;

    /// <summary>
    /// Starts one accept. Returns true when it completed synchronously (the result is ready now, no message
    /// will come); false when <see cref="Listener.AcceptCompleted"/> will be told to <see cref="Owner"/>.
    /// </summary>
    public bool StartAccept()
    {
        if (Interlocked.Exchange(ref _acceptPending, 1) == 1)
            throw new InvalidOperationException("an accept is already pending");
        _accepted = null;
        ValueTask<Socket> accept;
        // Never at the same time as Dispose: .NET closing a socket while a call holds its handle "unblocks" it with
        // connect(AF_UNSPEC), which stops a listening socket listening, in every process that shares it.
        lock (_gate)
        {
            if (IsDisposed)
            {
                _error = SocketError.OperationAborted;
                return true;
            }
            try
            {
                accept = Socket.AcceptAsync(_stop.Token);
            }
            catch (ObjectDisposedException)
            {
                _error = SocketError.OperationAborted;
                return true;
            }
        }
        if (accept.IsCompleted)
        {
            Complete(accept);
            return true;
        }
        _pending = accept;
        Volatile.Write(ref _inFlight, 1);
        accept.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_onCompleted);
        return false;
    }

    private static bool IsCompleted(ValueTask<Socket> accept)
    {
        try
        {
            return accept.IsCompleted;
        }
        catch (InvalidOperationException)
        {
            return true; // its result was taken already and the operation object reused
        }
    }

    private void Complete(ValueTask<Socket> accept)
    {
        try
        {
            _accepted = accept.GetAwaiter().GetResult();
            _error = SocketError.Success;
        }
        catch (SocketException e)
        {
            _error = e.SocketErrorCode;
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
            _error = SocketError.OperationAborted;
        }
        _pending = default;
    }

    /// <summary>Takes the result of the accept that completed: the accepted socket or the error.</summary>
    public (Socket? Accepted, SocketError Error) TakeResult()
    {
        var accepted = _accepted;
        var error = _error;
        _accepted = null;
        Volatile.Write(ref _completed, 0);
        Volatile.Write(ref _acceptPending, 0);
        // A connection accepted just before the socket was closed is still served, never dropped.
        if (accepted is not null && error == SocketError.Success)
            return (accepted, SocketError.Success);
        accepted?.Dispose();
        return (null, error == SocketError.Success ? SocketError.OperationAborted : error);
    }

    /// <summary>
    /// Closes this process's descriptor of the listening socket: a pending accept is cancelled first (it completes with
    /// OperationAborted, or with a connection that had just arrived, which is then still served), so the close never
    /// touches the kernel socket's options. Another process holding the same socket (a successor) keeps it listening.
    /// Idempotent.
    /// </summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        }
        _stop.Cancel();
        // The cancellation completes the accept at once (its continuation may run on another thread); wait for it, so
        // no operation is pending when the descriptor closes.
        var wait = new SpinWait();
        var until = Environment.TickCount64 + 1000;
        // The accept's own completion is what matters, not its continuation (which waits for a thread-pool thread).
        var pending = _pending;
        while (Volatile.Read(ref _inFlight) == 1 && !IsCompleted(pending) && Environment.TickCount64 < until) wait.SpinOnce();
        if (Shared)
        {
            // Right before the close, so a child started meanwhile (a handler's) cannot inherit the descriptor.
            try
            {
                Runtime.Sockets.SocketOptionsNative.ClearCloseOnExec(Socket);
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or ObjectDisposedException)
            {
                // Closed anyway below; the lock and the cancelled accept already keep .NET from touching the socket.
            }
        }
        Socket.Dispose();
    }

    /// <summary>Closes everything, a parked connection included: for when the node lets go of this shard for good.</summary>
    public void DisposeAll()
    {
        Dispose();
        Parked?.Dispose();
        Parked = null;
    }
}
