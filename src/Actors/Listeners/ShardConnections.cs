using Akka.Actor;
using Akka.Event;
using ShardRuntime.Actors.Connections;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Loading;
using ShardRuntime.Runtime.Sockets.Readiness;

namespace ShardRuntime.Actors.Listeners;

/// <summary>
/// The connections a shard hosts: each accepted connection's first turn runs in the shard, a connection that waits for
/// its first bytes waits here, and one that goes on gets its own actor (a child of the shard). The shard's sweep looks
/// over them for idle, request-head and linger deadlines. Used by its shard actor only, on the shard's thread: the
/// actor context it makes children with is the shard's.
/// </summary>
internal sealed class ShardConnections
{
    private readonly IUntypedActorContext _context;
    private readonly ListenerSettings _settings;
    private readonly ShardSocket _socket;
    private readonly HandlerRegistry _handlers;
    private readonly ConnectionBudget _budget;
    private readonly ShardCounters _counters;
    private readonly ILoggingAdapter _log;
    private readonly ConnectionSettings _connectionSettings;
    private readonly Func<ConnectionState, IActorRef> _makeActor;
    private readonly Runtime.Connections.IConnectionStreamLayer? _streamLayer;

    public ShardConnections(IUntypedActorContext context, ShardListener listener, ShardSocket socket, ShardCounters counters, ILoggingAdapter log)
    {
        _context = context;
        _settings = listener.Settings;
        _handlers = listener.Handlers;
        _budget = listener.Budget;
        _socket = socket;
        _counters = counters;
        _log = log;
        _connectionSettings = ConnectionSettings.From(listener.Settings);
        _makeActor = MakeActor;
        _streamLayer = listener.StreamLayer;
    }

    /// <summary>Tells every connection that has its actor <paramref name="message"/> (give the waiting ones theirs first: <see cref="AdoptWaiting"/>).</summary>
    public void TellAll(object message)
    {
        foreach (var child in _context.GetChildren()) child.Tell(message);
    }

    /// <summary>How many connections have their actor.</summary>
    public int WithActors => _context.GetChildren().Count();

    /// <summary>
    /// Serves a connection just accepted. Unless the listener says otherwise (first-turn-in-shard) or the shard retires,
    /// its first turn runs here: the handler is made, and what the peer sent already is read and answered. A connection
    /// that has sent nothing yet waits here for its first bytes. One that this finishes (the one request of a client
    /// that asked for the close) never gets an actor; any other is adopted by a connection actor, which goes on from
    /// where the shard stopped.
    /// </summary>
    public void Spawn(AcceptedSocket accepted)
    {
        _counters.ConnectionOpened();
        var lease = _handlers.Acquire();
        if (StreamPath.Serves(lease.Generation, _settings, _streamLayer))
        {
            SpawnStream(accepted, lease);
            return;
        }
        var state = new ConnectionState(accepted, ConnectionIds.Next(), _socket, _connectionSettings, lease,
            _counters, _budget, _log, _context.System);
        if (_settings.FirstTurnInShard && !_socket.Retiring) RunInShard(state, static s => ConnectionDriver.FirstTurn(s));
        else HandToActor(state);
    }

    /// <summary>
    /// Hands a connection of the stream path to its own actor at once (no first turn in the shard: its handler runs as a
    /// task off the I/O loop), which the sweep watches for the idle timeout.
    /// </summary>
    private void SpawnStream(AcceptedSocket accepted, HandlerLease lease)
    {
        var id = ConnectionIds.Next();
        StreamConnectionState state;
        try
        {
            state = new StreamConnectionState(accepted, id, _socket, _connectionSettings, lease, _counters, _budget, _log, _context.System, _streamLayer);
        }
        catch (System.Net.Sockets.SocketException e)
        {
            // The descriptor could not be made a .NET socket (the peer reset it already): it never served.
            _log.Debug("Connection {Listener}/{Shard}/{Connection} ended early: {Error}", _settings.Name, _socket.ShardId, id, e.Message);
            accepted.Close();
            _counters.ConnectionClosed();
            _budget.Release();
            lease.Dispose();
            return;
        }
        var child = _context.ActorOf(StreamConnection.Props(state), Connections.Connection.ActorName(id));
        state.Self = child;
        state.Watched = true;
        _socket.StreamConnections.Add(state);
        if (_socket.Retiring && _socket.RetireMode == RetireMode.LetGo) child.Tell(Drain());
    }

    /// <summary>A connection waiting in this shard got input (its first bytes, or the FIN its close waited for).</summary>
    public void OnReadable(ConnectionState connection)
    {
        if (connection.Finished) return;
        if (connection.HasActor)
        {
            // An actor took it over since (the shard retires, or its generation was replaced): the wake-up is the actor's.
            connection.Self.Tell(Connections.Connection.ReceiveReady.Instance);
            return;
        }
        connection.ReceivePending = false;
        RunInShard(connection, static s => ConnectionDriver.ReadLoop(s));
    }

    /// <summary>
    /// Runs one step of a connection that has no actor yet, here in the shard; the handler may ask for the actor
    /// meanwhile (it is made then). Afterwards the connection is finished, waits here, or is adopted by its actor.
    /// </summary>
    private void RunInShard(ConnectionState connection, Action<ConnectionState> step)
    {
        connection.MakeActor = _makeActor;
        step(connection);
        connection.MakeActor = null;
        if (connection.HasActor)
        {
            connection.Self.Tell(Connections.Connection.Adopt.Instance); // made during the step: it takes over now
            return;
        }
        if (connection.Finished) return;
        if (connection.ReceivePending) Watch(connection); // waits here for its first bytes (or its peer's FIN)
        else HandToActor(connection);
    }

    /// <summary>Makes the connection's actor and has it take the connection over at once.</summary>
    private void HandToActor(ConnectionState connection) => MakeActor(connection).Tell(Connections.Connection.Adopt.Instance);

    /// <summary>Makes a connection's actor (it waits for <see cref="Connections.Connection.Adopt"/>) and lets the sweep watch it.</summary>
    private IActorRef MakeActor(ConnectionState connection)
    {
        var child = _context.ActorOf(Connections.Connection.Props(connection), Connections.Connection.ActorName(connection.ConnectionId));
        Volatile.Write(ref connection.Self, child);
        Watch(connection);
        // Accepted while the shard hands its socket over: it drains from the start.
        if (_socket.Retiring && _socket.RetireMode == RetireMode.LetGo) child.Tell(Drain());
        return child;
    }

    private void Watch(ConnectionState connection)
    {
        if (connection.Watched) return;
        connection.Watched = true;
        _socket.Connections.Add(connection);
    }

    /// <summary>Gives each connection waiting in this shard its actor, so that what is said to the shard's children reaches it.</summary>
    public void AdoptWaiting()
    {
        foreach (var connection in _socket.Connections)
            if (!connection.Finished && !connection.HasActor)
                HandToActor(connection);
    }

    /// <summary>How often the sweep looks: a quarter of the idle, request-head and linger timeouts (so each is kept within 25%), 10 ms to 1 s.</summary>
    public static TimeSpan SweepInterval(ListenerSettings settings)
    {
        var shortest = Math.Min(Math.Min(settings.IdleTimeout.Ticks, settings.RequestHeadTimeout.Ticks), settings.LingerTimeout.Ticks) / 4;
        return TimeSpan.FromTicks(Math.Clamp(shortest, TimeSpan.FromMilliseconds(10).Ticks, TimeSpan.FromSeconds(1).Ticks));
    }

    /// <summary>
    /// Tells each connection idle for the idle timeout, or with a request incomplete for the request-head timeout, to
    /// check itself (it decides: it may have had activity since), and each whose graceful close waited its linger time for the peer's FIN that the wait is over; drops finished ones.
    /// </summary>
    public void Sweep()
    {
        var now = Environment.TickCount64;
        var idleTimeout = (long)_settings.IdleTimeout.TotalMilliseconds;
        SweepStreams(now, idleTimeout);
        var connections = _socket.Connections;
        for (var i = connections.Count - 1; i >= 0; i--)
        {
            var c = connections[i];
            if (Volatile.Read(ref c.Finished))
            {
                connections[i] = connections[^1];
                connections.RemoveAt(connections.Count - 1);
                continue;
            }
            var idle = now - Math.Max(Volatile.Read(ref c.LastActivity), Volatile.Read(ref c.IdleClosingSince)) >= idleTimeout;
            var due = idle || ConnectionDriver.RequestLate(c, now);
            var linger = Volatile.Read(ref c.LingerDeadline);
            var lingered = linger != 0 && now >= linger;
            if (!c.HasActor)
            {
                // Waiting in this shard: checked here, as its actor would.
                if (due) RunInShard(c, static s => ConnectionDriver.OnDeadlineCheck(s));
                // (Unless the check just gave it its actor: then the connection is the actor's.)
                if (lingered && !c.HasActor && !c.Finished && c.OutputShut)
                    ConnectionDriver.Finish(c, c.CloseReason);
                continue;
            }
            if (due) c.Self.Tell(Connections.Connection.DeadlineCheck.Instance);
            if (lingered) c.Self.Tell(Connections.Connection.LingerExpired.Instance);
        }
    }

    /// <summary>Tells each stream connection idle for the idle timeout to check itself; drops finished ones.</summary>
    private void SweepStreams(long now, long idleTimeout)
    {
        var streams = _socket.StreamConnections;
        for (var i = streams.Count - 1; i >= 0; i--)
        {
            var c = streams[i];
            if (Volatile.Read(ref c.Finished))
            {
                streams[i] = streams[^1];
                streams.RemoveAt(streams.Count - 1);
                continue;
            }
            if (!c.HandedOff && now - Volatile.Read(ref c.LastActivity) >= idleTimeout) c.Self.Tell(Connections.Connection.DeadlineCheck.Instance);
        }
    }

    /// <summary>Ends a connection like a retired handler generation's: told it drains, closed gracefully at the shard's drain deadline.</summary>
    public Connections.Connection.RetireGeneration Drain()
    {
        var left = _socket.DrainDeadline - DateTime.UtcNow;
        return new Connections.Connection.RetireGeneration(int.MaxValue, left > TimeSpan.Zero ? left : TimeSpan.Zero);
    }
}
