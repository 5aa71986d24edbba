using System.Net.Sockets;
using Akka.Actor;

namespace ShardRuntime.Actors.Listener;

/// <summary>
/// One listening socket and its pending accept, owned by the coordinator's registry rather than by the shard
/// actor, so that a crash and restart of the actor neither closes the socket nor loses an accept in flight:
/// the completion is told to the same actor reference, which the restarted instance keeps.
/// </summary>
internal sealed class ShardSocket : IDisposable
{
    private readonly SocketAsyncEventArgs _accept = new();
    private int _acceptPending;
    private int _disposed;

    public ShardSocket(Socket socket, int shardId)
    {
        Socket = socket;
        ShardId = shardId;
        Inode = Runtime.Sockets.KernelSocketTable.GetInode(socket);
        _accept.Completed += (_, _) =>
        {
            var owner = Owner;
            if (owner is not null)
                owner.Tell(Listener.AcceptCompleted.Instance);
            else
                TakeResult().Accepted?.Dispose(); // the shard is gone: nobody can serve it
        };
    }

    public Socket Socket { get; }

    public int ShardId { get; }

    /// <summary>The kernel's inode of the socket: what <c>ss -e</c> shows, and what stays the same across a handover.</summary>
    public long Inode { get; }

    /// <summary>The shard actor told of accept completions.</summary>
    public IActorRef? Owner { get; set; }

    public bool AcceptPending => Volatile.Read(ref _acceptPending) == 1;

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
        Volatile.Write(ref _acceptPending, 0);
        var accepted = _accept.AcceptSocket;
        _accept.AcceptSocket = null;
        var error = _accept.SocketError;
        if (IsDisposed)
            _accept.Dispose();
        // A connection accepted just before the socket was closed is still served, never dropped.
        if (accepted is not null && error == SocketError.Success)
            return (accepted, SocketError.Success);
        return error == SocketError.Success ? (accepted, SocketError.Success) : (null, error);
    }

    /// <summary>Closes the listening socket (a pending accept completes with OperationAborted). Idempotent.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        Socket.Dispose();
        if (!AcceptPending) _accept.Dispose();
    }
}
