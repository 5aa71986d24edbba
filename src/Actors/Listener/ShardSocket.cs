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
    private readonly SocketAsyncEventArgs _accept = new();
    private int _acceptPending;
    private int _completed;
    private int _disposed;

    public ShardSocket(Socket socket, int shardId)
    {
        Socket = socket;
        ShardId = shardId;
        EndPoint = (IPEndPoint)socket.LocalEndPoint!;
        Inode = Runtime.Sockets.KernelSocketTable.GetInode(socket);
        _accept.Completed += (_, _) =>
        {
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

    /// <summary>The shard actor told of accept completions.</summary>
    public IActorRef? Owner { get; set; }

    /// <summary>The shard retires: it accepts no more and stops once its connections are gone.</summary>
    public bool Retiring { get; set; }

    /// <summary>The retiring shard drains its accept queue before closing (new connections are steered away).</summary>
    public bool DrainingQueue { get; set; }

    /// <summary>When the retiring shard stops waiting for its accept queue to stay empty and closes the socket anyway.</summary>
    public DateTime QueueDeadline { get; set; } = DateTime.MaxValue;

    /// <summary>When the last connection was accepted (or steering last changed): the start of the quiet period.</summary>
    public DateTime QuietSince { get; set; } = DateTime.MinValue;

    /// <summary>The shard asked the coordinator to close the socket and waits for <see cref="Listener.SocketClosed"/>.</summary>
    public bool CloseRequested { get; set; }

    /// <summary>Connections accepted while the retiring shard drained its queue.</summary>
    public int DrainedFromQueue { get; set; }

    /// <summary>When a retiring shard aborts the connections it still has.</summary>
    public DateTime DrainDeadline { get; set; } = DateTime.MaxValue;

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
        _accept.AcceptSocket = null;
        try
        {
            if (Socket.AcceptAsync(_accept)) return false;
        }
        catch (ObjectDisposedException)
        {
            _accept.SocketError = SocketError.OperationAborted;
        }
        return true;
    }

    /// <summary>Takes the result of the accept that completed: the accepted socket or the error.</summary>
    public (Socket? Accepted, SocketError Error) TakeResult()
    {
        var accepted = _accept.AcceptSocket;
        var error = _accept.SocketError;
        _accept.AcceptSocket = null;
        Volatile.Write(ref _completed, 0);
        Volatile.Write(ref _acceptPending, 0);
        if (IsDisposed)
            _accept.Dispose();
        // A connection accepted just before the socket was closed is still served, never dropped.
        if (accepted is not null && error == SocketError.Success)
            return (accepted, SocketError.Success);
        accepted?.Dispose();
        return (null, error == SocketError.Success ? SocketError.OperationAborted : error);
    }

    /// <summary>Closes the listening socket (a pending accept completes with OperationAborted). Idempotent.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        Socket.Dispose();
        if (!AcceptPending) _accept.Dispose();
    }

    /// <summary>Closes everything, a parked connection included: for when the node lets go of this shard for good.</summary>
    public void DisposeAll()
    {
        Dispose();
        Parked?.Dispose();
        Parked = null;
    }
}
