using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using ShardRuntime.Actors.Listener;
using ShardRuntime.Runtime.Connections;
using ShardRuntime.Runtime.Loading;

namespace ShardRuntime.Actors.Connection;

/// <summary>
/// Everything one connection is: its socket, pending I/O, buffers, handler and flags. It lives outside the
/// <see cref="ConnectionActor"/> instance (it is an argument of the actor's Props), so that when the actor is
/// restarted (Akka restarts the children of a shard actor that restarts) the new instance continues the very same
/// connection, with the handler's state and any I/O in flight. It is also the handler's <see cref="IConnectionContext"/>.
/// Only the owning actor touches it, except the I/O completions, which only tell the actor.
/// </summary>
internal sealed class ConnectionState : IConnectionContext, IConnectionActorFeature
{
    public ConnectionState(
        Socket socket, long id, int shardId, ConnectionSettings settings, HandlerLease lease,
        ShardCounters counters, ConnectionBudget budget)
    {
        Socket = socket;
        ConnectionId = id;
        ShardId = shardId;
        Settings = settings;
        Lease = lease;
        Counters = counters;
        Budget = budget;
        ReceiveArgs.SetBuffer(Array.Empty<byte>(), 0, 0);
        ReceiveArgs.Completed += (_, args) => Completed(args, Connection.ReceiveReady.Instance);
        SendArgs.Completed += (_, args) => Completed(args, Connection.SendCompleted.Instance);
    }

    /// <summary>
    /// An I/O operation finished on a pool thread: tell the actor, or, when the connection already ended (the
    /// operation was cancelled by closing the socket), free the operation's resources here.
    /// </summary>
    private void Completed(SocketAsyncEventArgs args, object message)
    {
        if (!Volatile.Read(ref Finished))
        {
            Self.Tell(message);
            return;
        }
        args.Dispose();
    }

    public readonly Socket Socket;
    public readonly ConnectionSettings Settings;
    /// <summary>The handler generation this connection runs on, held until the connection ends.</summary>
    public readonly HandlerLease Lease;
    public readonly ShardCounters Counters;
    public readonly ConnectionBudget Budget;
    public readonly SocketAsyncEventArgs ReceiveArgs = new();
    public readonly SocketAsyncEventArgs SendArgs = new();
    public readonly WriteQueue Tx = new();

    public IActorRef Self = ActorRefs.Nobody;
    public ActorSystem? ActorSystem;
    public IConnectionHandler? Handler;
    public bool Started;
    public byte[]? Rx;
    public int RxCount;
    public long BytesIn;
    public long BytesOut;
    public long LastActivity;

    public bool GenerationRetired;
    public long GenerationDeadlineAt;
    public bool ReceivePending;
    public bool InReadLoop;
    public bool Sending;
    public byte[]? SendingBuffer;
    public bool ReadPaused;
    public bool InputEnded;
    public bool CloseRequested;
    public bool AbortRequested;
    public bool OutputShut;
    public bool Finished;
    public ConnectionCloseReason CloseReason = ConnectionCloseReason.Closed;

    // IConnectionContext
    public long ConnectionId { get; }
    public string ListenerName => Settings.Listener;
    public int ShardId { get; }
    public int HandlerGeneration => Lease.Generation.Number;

    public bool IsDraining => GenerationRetired;
    public EndPoint? RemoteEndPoint => Finished ? null : Socket.RemoteEndPoint;
    public EndPoint? LocalEndPoint => Finished ? null : Socket.LocalEndPoint;
    public bool IsClosing => CloseRequested || AbortRequested || Finished;

    public void Write(ReadOnlySpan<byte> data)
    {
        if (IsClosing || data.IsEmpty) return;
        Tx.Append(data);
    }

    public void Close() => CloseRequested = true;

    public void Abort() => AbortRequested = true;

    public T? GetFeature<T>() where T : class => typeof(T) == typeof(IConnectionActorFeature) ? (T)(object)this : null;

    // IConnectionActorFeature
    IActorRef IConnectionActorFeature.Self => Self;
    ActorSystem IConnectionActorFeature.System => ActorSystem!;
}
