using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using ShardRuntime.Actors.Listeners;
using ShardRuntime.Runtime.Connections;
using ShardRuntime.Runtime.Sockets.Readiness;

namespace ShardRuntime.Actors.Connections;

/// <summary>
/// Owns one accepted socket that outlived its shard's first turn (<see cref="ConnectionDriver.FirstTurn"/>) and drives its
/// handler from there (<see cref="Connection.Adopt"/>). I/O is non-blocking: the actor reads and sends synchronously
/// (<see cref="SocketIo"/>) while the kernel has data or room, and otherwise arms the socket's registration with the
/// <see cref="ReadinessEngine"/>, which tells it (<see cref="Connection.ReceiveReady"/>, <see cref="Connection.SendReady"/>)
/// when to go on. An idle connection therefore holds no receive buffer and no pending operation: only its registration.
/// Backpressure: while more than max-pending-write-bytes wait to be sent, it stops reading; it reads again once
/// they fall to half of that. A half-close from the peer is passed to the handler; a graceful close flushes,
/// shuts down the sending side and lingers for the peer's FIN. Its own failure stops it (the shard's strategy);
/// when Akka restarts it because its shard restarted, the new instance continues from <see cref="ConnectionState"/>.
/// </summary>
internal sealed class ConnectionActor : UntypedActor
{
    private readonly ConnectionState _connection;

    public ConnectionActor(ConnectionState connection) => _connection = connection;

    private long ConnectionId => _connection.ConnectionId;
    private string ListenerName => _connection.ListenerName;
    private int ShardId => _connection.ShardId;

    protected override void PreStart()
    {
        // A new actor does nothing until its shard tells it Adopt: the shard may still be running the connection's first
        // turn (the handler asked for this actor during it). A restarted one continues the connection it had adopted.
        if (!_connection.Adopted) return;
        ConnectionDriver.Resume(_connection, Context);
    }

    protected override void OnReceive(object message)
    {
        if (!_connection.Adopted)
        {
            // Messages for the handler that came before the connection was ours (it gave this actor's ref away in its
            // first turn) are kept in order and delivered once it is.
            if (message is Connection.Adopt) Adopt();
            else (_connection.Deferred ??= new List<object>()).Add(message);
            return;
        }
        switch (message)
        {
            case Connection.ReceiveReady:
                if (!_connection.ReceivePending) break; // stale: the wait it ends was already over
                _connection.ReceivePending = false;
                ConnectionDriver.ReadLoop(_connection); // the receive reports the error, if that is what the socket has
                break;
            case Connection.ReadMore:
                ConnectionDriver.ReadLoop(_connection);
                break;
            case Connection.SendReady:
                ConnectionDriver.OnSendReady(_connection);
                break;
            case Connection.DeadlineCheck:
                ConnectionDriver.OnDeadlineCheck(_connection);
                break;
            case Connection.LingerExpired:
                if (_connection.OutputShut) ConnectionDriver.Finish(_connection, _connection.CloseReason);
                break;
            case Connection.Abort abort:
                ConnectionDriver.AbortNow(_connection, abort.Reason);
                break;
            case Connection.RetireGeneration retire:
                if (!_connection.Finished && _connection.HandlerGeneration < retire.Current && !_connection.GenerationRetired)
                {
                    _connection.GenerationRetired = true;
                    _connection.GenerationDeadlineAt = Environment.TickCount64 + (long)retire.DrainTimeout.TotalMilliseconds;
                    // Rare (a reload, an upgrade): a timer of its own, which outlives a restart of this actor.
                    _connection.GenerationTimer = Context.System.Scheduler.ScheduleTellOnceCancelable(
                        retire.DrainTimeout, Self, Connection.GenerationDeadline.Instance, Self);
                }
                break;
            case Connection.GenerationDeadline:
                if (_connection.Finished || _connection.CloseRequested) break;
                Log.Debug("Connection {Listener}/{Shard}/{Connection} of retired handler generation {Generation}: drain deadline passed; closing",
                    ListenerName, ShardId, ConnectionId, _connection.HandlerGeneration);
                _connection.CloseReason = ConnectionCloseReason.DrainDeadline;
                _connection.CloseRequested = true;
                ConnectionDriver.Flush(_connection);
                break;
            default:
                if (_connection.Finished) return;
                if (ConnectionDriver.CallHandler(_connection, static (h, s, m) => h!.OnMessage(s, m!), message)
                    && ConnectionDriver.AfterCallback(_connection))
                    ConnectionDriver.ReadLoop(_connection);
                break;
        }
    }

    /// <summary>
    /// Takes the connection over from its shard: registers the socket with the readiness engine (unless it waited in the
    /// shard), goes on where the shard stopped (it reads and sends again what said EAGAIN), then hands the handler what
    /// was kept for it.
    /// </summary>
    private void Adopt()
    {
        _connection.Actor = Context;
        // Registered already when it waited in the shard (a wake-up armed there reaches this actor, or the shard passes it on).
        if (!_connection.Finished && _connection.Readiness is null && ConnectionDriver.Register(_connection) is null) return;
        // A connection its shard ran no turn for (first-turn-in-shard off, or the shard retires) starts here.
        if (_connection.Handler is null && !_connection.Finished) ConnectionDriver.FirstTurn(_connection);
        else ConnectionDriver.Resume(_connection, Context);
        if (_connection.Deferred is not { } deferred) return;
        _connection.Deferred = null;
        foreach (var message in deferred) OnReceive(message);
    }

    protected override void PreRestart(Exception reason, object message)
    {
        // Deliberately not base.PreRestart (which would run PostStop and abort the socket): the connection lives
        // in its ConnectionState and the next instance carries on with it. Only a parent's restart restarts a
        // connection actor; its own failures stop it (see the shard's supervisor strategy).
    }

    protected override void PostRestart(Exception reason) => PreStart();

    protected override void PostStop()
    {
        // Stopped from outside (or after a failure of this actor): never leave the socket open.
        if (!_connection.Finished) ConnectionDriver.AbortNow(_connection, ConnectionCloseReason.Aborted, stopping: true);
    }

    /// <summary>The shard's logger (made once per shard, not per connection); messages name the connection.</summary>
    private ILoggingAdapter Log => _connection.Log;
}
