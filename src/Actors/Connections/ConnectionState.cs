using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using ShardRuntime.Actors.Listeners;
using ShardRuntime.Runtime.Connections;
using ShardRuntime.Runtime.Loading;
using ShardRuntime.Runtime.Sockets.Readiness;

namespace ShardRuntime.Actors.Connections;

/// <summary>
/// Everything one connection is: its socket, pending I/O, buffers, handler and flags; and the handler's view of it (its
/// <see cref="IConnectionContext"/>, with the connection's actor as a feature). It lives outside the
/// <see cref="ConnectionActor"/> instance (its Props carry it: <see cref="ConnectionActorProps"/>), so that when the
/// actor is restarted (Akka restarts the children of a shard actor that restarts) the new instance continues the very
/// same connection, with the handler's state and its armed readiness. One thread at a time touches it: the shard during
/// the connection's first turn, then the actor that adopted it; the readiness engine
/// (<see cref="ConnectionReadiness"/>) and the shard's sweep only read their fields and tell the actor or the shard.
/// </summary>
internal sealed class ConnectionState : IConnectionContext, IConnectionActorFeature
{
    public ConnectionState(
        AcceptedSocket socket, long id, ShardSocket shard, ConnectionSettings settings, HandlerLease lease,
        ShardCounters counters, ConnectionBudget budget, ILoggingAdapter log, ActorSystem system)
    {
        ActorSystem = system;
        Log = log;
        Socket = socket;
        ConnectionId = id;
        Shard = shard;
        Settings = settings;
        Lease = lease;
        Counters = counters;
        Budget = budget;
        LastActivity = Environment.TickCount64;
    }

    public readonly AcceptedSocket Socket;
    public readonly ILoggingAdapter Log;
    /// <summary>The shard's socket and lasting state (whether it retires).</summary>
    public readonly ShardSocket Shard;
    /// <summary>The socket's descriptor, read and written directly (<see cref="SocketIo"/>), closed by <see cref="Socket"/>.</summary>
    public int Fd => Socket.Fd;
    public readonly ConnectionSettings Settings;
    /// <summary>The handler generation this connection runs on, held until the connection ends.</summary>
    public readonly HandlerLease Lease;
    public readonly ShardCounters Counters;
    public readonly ConnectionBudget Budget;
    /// <summary>
    /// The socket's registration with the readiness engine (<see cref="ConnectionReadiness"/> is told, with this state),
    /// from when the connection first waits in its shard, or its actor adopts it, until it ends.
    /// </summary>
    public ReadinessRegistration? Readiness;
    public readonly WriteQueue Tx = new();

    /// <summary>The connection's actor, once it has one (Nobody while its first turn runs in the shard, or when it never needed one).</summary>
    public IActorRef Self = ActorRefs.Nobody;
    public readonly ActorSystem ActorSystem;
    /// <summary>Set by the shard while it runs the first turn: makes the connection's actor when the handler asks for it.</summary>
    public Func<ConnectionState, IActorRef>? MakeActor;
    /// <summary>
    /// The adopting actor's context, set when it took the connection over (<see cref="Connection.Adopt"/>); written by the
    /// actor only. Where the connection's steps stop the actor and tell the shard.
    /// </summary>
    public IActorContext? Actor;

    /// <summary>
    /// The actor took the connection over. False for as long as the shard runs the connection, so the connection's steps
    /// (<see cref="ConnectionDriver"/>) tell by it where they run.
    /// </summary>
    public bool Adopted => Actor is not null;

    /// <summary>The connection has an actor (made, if perhaps not yet adopted): the shard no longer runs it.</summary>
    public bool HasActor => !ReferenceEquals(Volatile.Read(ref Self), ActorRefs.Nobody);
    /// <summary>In the shard's list of connections its sweep watches (from waiting in the shard or having an actor).</summary>
    public bool Watched;
    /// <summary>Messages for the handler that reached the actor before it adopted the connection; the actor's only.</summary>
    public List<object>? Deferred;
    public IConnectionHandler? Handler;
    public byte[]? Rx;
    public int RxCount;
    public long BytesIn;
    public long BytesOut;
    /// <summary>When a byte was last received or sent (Environment.TickCount64); the shard's sweep reads it.</summary>
    public long LastActivity;
    /// <summary>
    /// Since when the handler has left bytes unconsumed (a request not complete yet) with none completed since
    /// (Environment.TickCount64; 0: nothing pending); the shard's sweep reads it against the request-head timeout.
    /// </summary>
    public long IncompleteSince;
    /// <summary>When an idle close began (0: none); the shard's sweep reads it.</summary>
    public long IdleClosingSince;
    /// <summary>Until when a graceful close waits for the peer's FIN (0: not closing); the shard's sweep reads it.</summary>
    public long LingerDeadline;
    /// <summary>The retired generation's drain deadline, scheduled when the generation was retired.</summary>
    public ICancelable? GenerationTimer;

    public bool GenerationRetired;
    public long GenerationDeadlineAt;
    /// <summary>A receive found no data: the actor waits for <see cref="Connection.ReceiveReady"/>.</summary>
    public bool ReceivePending;
    public bool InReadLoop;
    /// <summary>A send found no room: the actor waits for <see cref="Connection.SendReady"/>.</summary>
    public bool Sending;
    public bool ReadPaused;
    public bool InputEnded;
    public bool CloseRequested;
    public bool AbortRequested;
    public bool OutputShut;
    /// <summary>The handler closed without waiting for the peer's FIN (<see cref="CloseWithoutLinger"/>).</summary>
    public bool NoLinger;
    public bool Finished;
    public ConnectionCloseReason CloseReason = ConnectionCloseReason.Closed;

    // IConnectionContext
    public long ConnectionId { get; }
    public string ListenerName => Settings.Listener;
    public int ShardId => Shard.ShardId;
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

    public void CloseWithoutLinger()
    {
        if (!CloseRequested) NoLinger = true;
        CloseRequested = true;
    }

    public void Abort() => AbortRequested = true;

    public T? GetFeature<T>() where T : class => typeof(T) == typeof(IConnectionActorFeature) ? (T)(object)this : null;

    // IConnectionActorFeature. A handler that asks for the actor during the first turn gets it made then; it takes the
    // connection over when the turn ends, and messages sent to it meanwhile wait for that.
    IActorRef IConnectionActorFeature.Self =>
        !HasActor && MakeActor is { } make ? make(this) : Self;

    ActorSystem IConnectionActorFeature.System => ActorSystem;
}
