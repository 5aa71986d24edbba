using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using ShardRuntime.Runtime.Sockets.Readiness;

namespace ShardRuntime.Actors.Listeners;

/// <summary>
/// One listening socket, its pending accept and the shard's lasting state (its phase, drain deadline, a parked
/// connection), owned by its reuseport group's actor (which alone closes it) rather than by the shard actor. A crash and restart of the
/// actor therefore neither closes the socket nor loses an accept in flight or a retirement in progress: the
/// completion is told to the same actor reference, and a completion that nobody received yet is kept here for the
/// next owner.
/// </summary>
internal sealed class ShardSocket : IShardSocket, IReadinessListener
{
    // Accepts are accept4() calls on the descriptor, readiness from the ReadinessEngine: no .NET operation is ever
    // pending on a listening socket. (.NET closes a socket that still has an operation pending abortively, which sets
    // SO_LINGER {1, 0} on the kernel socket; after an upgrade that socket is the successor's too, and every connection it
    // accepted would inherit the zero linger, a reset on close.) Closing is therefore a plain close() of this process's
    // descriptor, never at the same time as an accept4() on it (the gate).
    private readonly object _gate = new();
    private readonly int _fd;
    private readonly ReadinessRegistration _readiness;
    private AcceptedSocket _accepted;
    private SocketError _error;
    private int _acceptPending;
    private int _completed;
    private int _disposed;

    /// <param name="socket">The listening socket this shard accepts on (owned from here on).</param>
    /// <param name="shardId">The shard's number within its listener.</param>
    /// <param name="loop">The I/O loop that watches this socket and its connections.</param>
    /// <param name="dispatcher">The dispatcher of the shard's and its connections' actors (null: Akka's default).</param>
    public ShardSocket(Socket socket, int shardId, ReadinessEngine loop, string? dispatcher = null)
    {
        Socket = socket;
        ShardId = shardId;
        Loop = loop;
        Dispatcher = dispatcher;
        ConnectionDeploy = dispatcher is null ? ShardRuntime.Actors.Connections.ConnectionMailbox.Deploy : ShardRuntime.Actors.Connections.ConnectionMailbox.Deploy.WithDispatcher(dispatcher);
        EndPoint = (IPEndPoint)socket.LocalEndPoint!;
        Inode = Runtime.Sockets.KernelSocketTable.GetInode(socket);
        _fd = (int)socket.SafeHandle.DangerousGetHandle();
        Runtime.Sockets.SocketOptionsNative.SetNonBlocking(socket);
        // Set once here, Linux copies it to every accepted connection: no setsockopt() per connection.
        socket.NoDelay = true;
        _readiness = loop.Register(_fd, this);
    }

    /// <summary>The I/O loop that watches this socket and its connections.</summary>
    public ReadinessEngine Loop { get; }

    /// <summary>The dispatcher of the shard's and its connections' actors, or null for Akka's default dispatcher.</summary>
    public string? Dispatcher { get; }

    /// <summary>How a connection actor of this shard is deployed: its mailbox, and the shard's dispatcher.</summary>
    internal Akka.Actor.Deploy ConnectionDeploy { get; }

    // IReadinessListener: the readiness engine's thread, after an accept found the queue empty and armed.
    void IReadinessListener.OnReadable(object? state)
    {
        // Record first, then tell: a new owner that starts in between finds it in PreStart.
        Volatile.Write(ref _completed, 1);
        Owner?.Tell(Listener.AcceptCompleted.Instance);
    }

    void IReadinessListener.OnWritable(object? state)
    {
    }

    public Socket Socket { get; }

    public int ShardId { get; }

    /// <summary>The address the socket is bound to (kept, since a closed socket no longer tells).</summary>
    public IPEndPoint EndPoint { get; }

    /// <summary>The kernel's inode of the socket: what <c>ss -e</c> shows, and what stays the same across an upgrade.</summary>
    public long Inode { get; }

    /// <summary>
    /// Another process (a successor) holds this socket too. Closing then also clears FD_CLOEXEC first, which is how .NET
    /// tells a descriptor shared with other processes and never "unblocks" it with connect(AF_UNSPEC), which would stop
    /// it listening for every holder. Only for a process that starts no child any more (it would inherit the descriptor).
    /// </summary>
    public bool Shared { get; set; }


    /// <summary>The shard actor told of accept completions.</summary>
    public IActorRef? Owner { get; set; }

    /// <summary>
    /// Where the shard is in its life (its actor's behaviour follows it; kept here so that a restarted actor carries on).
    /// Only the shard actor changes it.
    /// </summary>
    public ShardPhase Phase
    {
        get => (ShardPhase)Volatile.Read(ref _phase);
        // A full fence: the shard then counts its open connections, a connection that just ended reads Retiring (see Finish).
        set => Interlocked.Exchange(ref _phase, (int)value);
    }

    private int _phase;

    /// <summary>The shard retires (or its socket closed): it stops once its connections are gone. Read by its connections.</summary>
    public bool Retiring => Phase >= ShardPhase.Retiring;

    /// <summary>How the shard retires, once it does.</summary>
    public RetireMode RetireMode { get; set; }

    /// <summary>When a retiring shard closes (or aborts) the connections it still has.</summary>
    public DateTime DrainDeadline { get; set; } = DateTime.MaxValue;

    /// <summary>The graceful close was asked of every connection; the next deadline aborts (<see cref="RetireMode.LetGo"/>).</summary>
    public bool GracefulCloseSent { get; set; }

    /// <summary>When the shard last accepted a connection (<see cref="Environment.TickCount64"/>): a retiring socket's group reads it to see its queue quiet.</summary>
    public long LastAcceptedAt
    {
        get => Volatile.Read(ref _lastAcceptedAt);
        set => Volatile.Write(ref _lastAcceptedAt, value);
    }

    private long _lastAcceptedAt;

    /// <summary>Connections accepted since the shard began to retire.</summary>
    public long DrainedFromQueue { get; set; }

    long IShardSocket.LastTakenAt => LastAcceptedAt;

    int IShardSocket.Queued()
    {
        try
        {
            return Runtime.Sockets.ListenerDrain.QueueLength(Socket);
        }
        catch (Exception e) when (e is SocketException or InvalidOperationException or ObjectDisposedException)
        {
            return 0;
        }
    }

    Props IShardSocket.ShardProps(ShardListener listener, ShardCounters counters) => Listener.Props(listener, this, counters);

    /// <summary>
    /// The shard's connections, for its sweep (idle timeouts, linger deadlines): one periodic timer per shard rather
    /// than timers per connection. Finished ones are dropped by the sweep.
    /// </summary>
    internal List<ShardRuntime.Actors.Connections.ConnectionState> Connections { get; } = new();

    /// <summary>This shard's connections on the stream path, for its sweep (idle timeout); the shard's only.</summary>
    internal List<ShardRuntime.Actors.Connections.StreamConnectionState> StreamConnections { get; } = new();

    /// <summary>Connections waiting in the shard whose input came, for the shard to take (<see cref="Listener.ConnectionsReadable"/>).</summary>
    internal ShardRuntime.Actors.Connections.ReadableConnections Readable { get; } = new();

    /// <summary>A connection accepted when the listener was full, waiting for a slot (at most one per shard).</summary>
    public AcceptedSocket? Parked { get; set; }

    public bool AcceptPending => Volatile.Read(ref _acceptPending) == 1;

    /// <summary>A waiting accept was woken (a connection arrived, or the socket closed) and the shard has not taken it yet.</summary>
    public bool CompletionReady => Volatile.Read(ref _completed) == 1;

    public bool IsDisposed => Volatile.Read(ref _disposed) == 1;

    /// <summary>
    /// Tries one accept. Returns true when there is a result to take now (<see cref="TakeResult"/>: a connection or an
    /// error); false when the queue is empty and <see cref="Listener.AcceptCompleted"/> will be told to <see cref="Owner"/>
    /// once a connection arrives (the shard then tries again, after <see cref="TakeWakeUp"/>).
    /// </summary>
    public bool StartAccept()
    {
        if (Interlocked.Exchange(ref _acceptPending, 1) == 1)
            throw new InvalidOperationException("an accept is already pending");
        while (true)
        {
            var seen = _readiness.ReadEdges;
            SocketError error;
            AcceptedSocket accepted = default;
            lock (_gate)
            {
                error = IsDisposed ? SocketError.OperationAborted : AcceptedSocket.Accept(_fd, out accepted);
            }
            if (error == SocketError.WouldBlock)
            {
                if (_readiness.ArmRead(seen)) return false;
                continue; // a connection arrived meanwhile
            }
            _accepted = accepted;
            _error = error;
            return true;
        }
    }

    /// <summary>Takes the result of the accept that completed: the accepted connection or the error.</summary>
    public (AcceptedSocket? Accepted, SocketError Error) TakeResult()
    {
        var accepted = _accepted;
        var error = _error;
        _accepted = default;
        Volatile.Write(ref _acceptPending, 0);
        // A connection accepted just before the socket was closed is still served, never dropped.
        return error == SocketError.Success ? (accepted, SocketError.Success) : (null, error);
    }

    /// <summary>Takes the wake-up of a waiting accept (the queue has a connection): the shard accepts again.</summary>
    public void TakeWakeUp()
    {
        Volatile.Write(ref _completed, 0);
        Volatile.Write(ref _acceptPending, 0);
    }

    /// <summary>
    /// Closes this process's descriptor of the listening socket (never during an accept4() on it), after leaving the
    /// readiness engine. Another process holding the same socket (a successor) keeps it listening. Idempotent.
    /// </summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
            _readiness.Dispose();
            CloseDescriptor(Socket, Shared);
        }
        // A waiting accept has nothing to wait for any more: wake the shard so that it sees the socket closed.
        if (Volatile.Read(ref _acceptPending) == 1) ((IReadinessListener)this).OnReadable(null);
    }

    /// <summary>
    /// Closes this process's descriptor of <paramref name="socket"/> (no .NET operation is ever pending on it). When
    /// <paramref name="shared"/> (a successor holds it too), FD_CLOEXEC is cleared right before the close, so .NET sees a
    /// descriptor shared with other processes and leaves the kernel socket as it is, and a child started meanwhile (a
    /// handler's) cannot inherit it.
    /// </summary>
    internal static void CloseDescriptor(Socket socket, bool shared)
    {
        if (shared)
        {
            try
            {
                Runtime.Sockets.SocketOptionsNative.ClearCloseOnExec(socket);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Closed anyway below.
            }
        }
        socket.Dispose();
    }

    /// <summary>Closes everything, a parked connection included: for when the node lets go of this shard for good.</summary>
    public void DisposeAll()
    {
        Dispose();
        Parked?.Close();
        Parked = null;
    }
}
