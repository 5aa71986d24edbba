using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using ShardRuntime.Actors.Connection;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Connections;
using ShardRuntime.Runtime.Loading;
using ShardRuntime.Runtime.Sockets;
using ShardRuntime.Runtime.Sockets.Readiness;

namespace ShardRuntime.Actors.Listener;

/// <summary>
/// Owns one listening socket of a listener: accepts, runs each connection's first turn and makes a
/// <see cref="ConnectionActor"/> child for each connection that outlives it. States: accepting -> (paused at
/// max-connections | backing off after a resource error) -> retiring.
/// The socket and everything about the shard that must outlive the actor instance live in <see cref="ShardSocket"/>,
/// so a crash of this actor closes nothing: the restart keeps the children and continues where it was.
/// </summary>
internal sealed class ListenerShardActor : UntypedActor, IWithTimers
{
    /// <summary>Accepts handled in one go before the shard yields to its mailbox.</summary>
    private const int AcceptBatch = 32;

    private readonly ListenerSettings _settings;
    private readonly ShardSocket _socket;
    private readonly HandlerRegistry _handlers;
    private readonly ConnectionBudget _budget;
    private readonly ShardCounters _counters;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ConnectionSettings _connectionSettings;
    private readonly Func<ConnectionState, IActorRef> _makeActor;
    private TimeSpan _backoff;

    public ListenerShardActor(
        ListenerSettings settings,
        ShardSocket socket,
        HandlerRegistry handlers,
        ConnectionBudget budget,
        ShardCounters counters)
    {
        _settings = settings;
        _socket = socket;
        _handlers = handlers;
        _budget = budget;
        _counters = counters;
        _backoff = settings.AcceptBackoff;
        _connectionSettings = ConnectionSettings.From(settings);
        _makeActor = MakeActor;
    }

    public ITimerScheduler Timers { get; set; } = null!;

    private int ShardId => _socket.ShardId;

    /// <summary>Open connections of this shard: counted as they open and finish (no death watch per connection).</summary>
    private bool HasConnections => _counters.Open > 0;

    protected override SupervisorStrategy SupervisorStrategy() =>
        // A connection actor that fails is stopped, never restarted: its socket goes with it.
        new OneForOneStrategy(_ => Directive.Stop);

    protected override void PreStart()
    {
        _socket.Owner = Self;
        ConnectionMailbox.EnsureConfigured(Context.System);
        Timers.StartPeriodicTimer("sweep", Listener.SweepConnections.Instance, SweepInterval(_settings));
        // After a restart the children (open connections) are still here; each tells when it ends (ConnectionEnded).
        var open = _counters.Open;
        if (_socket.Retiring)
        {
            _log.Info("Shard {Listener}/{Shard} resumed retiring with {Open} open connections", _settings.Name, ShardId, open);
            ArmDrainDeadline();
            if (_socket.DrainingQueue && !_socket.CloseRequested) ArmQuietCheck();
        }
        else
        {
            _log.Info("Shard {Listener}/{Shard} accepting on {EndPoint} (socket inode {Inode}, {Open} open connections)",
                _settings.Name, ShardId, _socket.EndPoint, _socket.Inode, open);
        }
        if (_socket.CompletionReady) OnAcceptCompleted(); // completed while nobody owned the socket
        else Self.Tell(Listener.ResumeAccepting.Instance); // through the descriptor reserve, like after a back-off
        TryFinish();
    }

    protected override void PreRestart(Exception reason, object message)
    {
        // Deliberately not base.PreRestart: that would stop every child, i.e. drop every open connection.
        _log.Warning("Shard {Listener}/{Shard} crashed on {Message}: {Error}; restarting on the same socket with its connections",
            _settings.Name, ShardId, message?.GetType().Name ?? "start-up", reason.Message);
    }

    protected override void PostRestart(Exception reason) => PreStart();

    protected override void PostStop()
    {
        // The children (connection actors) stop with this actor; connections waiting in it go the same way.
        foreach (var connection in _socket.Connections)
            if (!connection.Finished && !connection.HasActor)
                ConnectionDriver.AbortNow(connection, ConnectionCloseReason.Aborted);
        _budget.StopWaiting(Self);
        _socket.Owner = null;
        // A retired shard lets go of its socket; a shard that stopped otherwise leaves it to the coordinator,
        // which starts a new shard actor on it.
        if (_socket.Retiring) _socket.DisposeAll();
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Listener.AcceptCompleted:
                OnAcceptCompleted();
                TryFinish();
                break;
            case Listener.ConnectionEnded:
                TryFinish();
                break;
            case Listener.CapacityAvailable:
            case Listener.AcceptMore:
                Accept();
                TryFinish();
                break;
            case Listener.ResumeAccepting:
                if (!DescriptorReserve.TryHold())
                {
                    BackOff("too few file descriptors to hold the reserve back");
                    break;
                }
                if (DescriptorReserve.IsNearLimit())
                {
                    BackOff($"{SocketError.TooManyOpenSockets}: the process is still at its descriptor limit");
                    break;
                }
                Accept();
                TryFinish();
                break;
            case Listener.Standby:
                _socket.Standby = true;
                _log.Info("Shard {Listener}/{Shard} on standby: the successor accepts on socket inode {Inode}; this copy stays open, not accepting",
                    _settings.Name, ShardId, _socket.Inode);
                break;
            case Listener.Resume when _socket.Standby && !_socket.Retiring:
                _socket.Standby = false;
                _log.Info("Shard {Listener}/{Shard} accepting again on socket inode {Inode}", _settings.Name, ShardId, _socket.Inode);
                Self.Tell(Listener.ResumeAccepting.Instance);
                break;
            case Listener.Resume:
                break;
            case Listener.Retire retire:
                _socket.Standby = false;
                if (retire.Graceful) _socket.GracefulDeadline = true;
                BeginRetire(retire.DrainTimeout, retire.DrainQueue);
                if (retire.Graceful)
                {
                    AdoptWaitingConnections();
                    // The connections learn now that they drain (a protocol can end at its next boundary) and get the deadline.
                    foreach (var child in Context.GetChildren()) child.Tell(DrainConnection());
                }
                break;
            case Listener.GenerationChanged changed:
                AdoptWaitingConnections();
                var retireGeneration = new Connection.Connection.RetireGeneration(changed.Current, changed.DrainTimeout);
                foreach (var child in Context.GetChildren()) child.Tell(retireGeneration);
                break;
            case Listener.QuietCheck:
                OnQuietCheck();
                break;
            case Listener.SweepConnections:
                SweepConnections();
                TryFinish();
                break;
            case Listener.ConnectionsReadable:
                while (_socket.Readable.TryTake(out var connection)) OnShardConnectionReadable(connection);
                TryFinish();
                break;
            case Listener.SocketClosed:
                OnSocketClosed();
                break;
            case Listener.SteeringChanged:
                _socket.SteeringChangesSeen++;
                if (_socket.DrainingQueue) _socket.QuietSince = DateTime.UtcNow;
                break;
            case Listener.DrainAgain when _socket.DrainingQueue && _socket.CloseRequested && !_socket.IsDisposed:
                _socket.CloseRequested = false;
                _socket.QuietSince = DateTime.UtcNow;
                ArmQuietCheck();
                break;
            case Listener.DrainAgain:
                break;
            case Listener.DrainDeadline:
                OnDrainDeadline();
                break;
            case Listener.CrashForTest when Listener.CrashForTestEnabled:
                throw new InvalidOperationException($"crash injected into shard {_settings.Name}/{ShardId} by a test");
            default:
                Unhandled(message);
                break;
        }
    }

    /// <summary>
    /// Serves a parked connection once a slot is free, then accepts unless an accept is already in flight, the
    /// shard retires, or the listener is full. A connection accepted when the listener just filled up is parked
    /// (one per shard) until a slot frees; the rest wait in the kernel's backlog.
    /// </summary>
    private void Accept()
    {
        for (var i = 0; i < AcceptBatch; i++)
        {
            if (_socket.Parked is { } parked)
            {
                if (!_budget.TryAcquireOrWait(Self)) return;
                _socket.Parked = null;
                Spawn(parked);
                continue;
            }
            if (_socket.Standby || (_socket.Retiring && !_socket.DrainingQueue) || _socket.AcceptPending || _socket.IsDisposed) return;
            if (!_socket.StartAccept()) return; // the queue is empty: AcceptCompleted comes when it is not
            if (!HandleAcceptResult()) return;
        }
        // Yield to the mailbox after a batch of synchronous accepts, then go on.
        Self.Tell(Listener.AcceptMore.Instance);
    }

    /// <summary>A waiting accept was woken: a connection is queued (or the socket closed). Accept again.</summary>
    private void OnAcceptCompleted()
    {
        if (!_socket.CompletionReady) return; // already taken (a restarted owner took it in PreStart)
        _socket.TakeWakeUp();
        Accept();
    }

    /// <summary>Serves or sorts the result of the accept that completed. Returns whether to keep accepting now.</summary>
    private bool HandleAcceptResult()
    {
        var (accepted, error) = _socket.TakeResult();
        if (accepted is not null)
        {
            _backoff = _settings.AcceptBackoff;
            if (_socket.DrainingQueue)
            {
                _socket.QuietSince = DateTime.UtcNow;
                _socket.DrainedFromQueue++;
            }
            if (_budget.TryAcquireOrWait(Self))
            {
                // Connections leave the process's last descriptors to the runtime: past that line, pause as at EMFILE.
                var nearLimit = DescriptorReserve.IsNearLimit(accepted.Value);
                Spawn(accepted.Value);
                if (!nearLimit) return true;
                BackOff($"{SocketError.TooManyOpenSockets}: descriptors are near the process's limit");
                return false;
            }
            _socket.Parked = accepted.Value;
            _log.Debug("Shard {Listener}/{Shard} paused at max-connections {Max}", _settings.Name, ShardId, _budget.Max);
            return false;
        }

        switch (error)
        {
            case SocketError.OperationAborted or SocketError.Shutdown or SocketError.NotSocket or SocketError.Interrupted
                when _socket.Retiring || _socket.IsDisposed:
                return false; // the socket was closed on purpose
            case SocketError.ConnectionAborted or SocketError.ConnectionReset:
                // ECONNABORTED: the peer gave up while in the backlog. Keep accepting.
                _log.Debug("Shard {Listener}/{Shard} accept: {Error} (peer went away in the backlog)", _settings.Name, ShardId, error);
                return true;
            case SocketError.TooManyOpenSockets:
                // EMFILE/ENFILE: give the process its reserved descriptors (the runtime needs some to keep going) and
                // pause; the reserve is taken back before accepting again.
                DescriptorReserve.Release();
                BackOff(error.ToString());
                return false;
            default:
                // ENOBUFS, ENOMEM and the unexpected: never let the listener die; pause and retry.
                BackOff(error.ToString());
                return false;
        }
    }

    private void BackOff(string why)
    {
        _log.Warning("Shard {Listener}/{Shard} accept failed ({Error}); pausing accepts for {Backoff}", _settings.Name, ShardId, why, _backoff);
        Timers.StartSingleTimer("accept-backoff", Listener.ResumeAccepting.Instance, _backoff);
        _backoff = TimeSpan.FromTicks(Math.Min(_backoff.Ticks * 2, _settings.AcceptBackoffMax.Ticks));
    }

    /// <summary>
    /// Serves a connection just accepted. Unless the listener says otherwise (first-turn-in-shard) or the shard retires,
    /// its first turn runs here: the handler is made, and what the peer sent already is read and answered. A connection
    /// that has sent nothing yet waits here for its first bytes. One that this finishes (the one request of a client
    /// that asked for the close) never gets an actor; any other is adopted by a connection actor, which goes on from
    /// where the shard stopped.
    /// </summary>
    private void Spawn(AcceptedSocket accepted)
    {
        _counters.ConnectionOpened();
        var state = new ConnectionState(accepted, ConnectionIds.Next(), _socket, _connectionSettings, _handlers.Acquire(),
            _counters, _budget, _log, Context.System);
        if (_settings.FirstTurnInShard && !_socket.Retiring) RunInShard(state, static s => ConnectionDriver.FirstTurn(s));
        else HandToActor(state);
    }

    /// <summary>A connection waiting in this shard got input (its first bytes, or the FIN its close waited for).</summary>
    private void OnShardConnectionReadable(ConnectionState connection)
    {
        if (connection.Finished) return;
        if (connection.HasActor)
        {
            // An actor took it over since (the shard retires, or its generation was replaced): the wake-up is the actor's.
            connection.Self.Tell(Connection.Connection.ReceiveReady.Instance);
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
            connection.Self.Tell(Connection.Connection.Adopt.Instance); // made during the step: it takes over now
            return;
        }
        if (connection.Finished) return;
        if (connection.ReceivePending) Watch(connection); // waits here for its first bytes (or its peer's FIN)
        else HandToActor(connection);
    }

    /// <summary>Makes the connection's actor and has it take the connection over at once.</summary>
    private void HandToActor(ConnectionState connection) => MakeActor(connection).Tell(Connection.Connection.Adopt.Instance);

    /// <summary>Makes a connection's actor (it waits for <see cref="Connection.Connection.Adopt"/>) and lets the sweep watch it.</summary>
    private IActorRef MakeActor(ConnectionState connection)
    {
        var child = Context.ActorOf(Connection.Connection.Props(connection), Connection.Connection.ActorName(connection.ConnectionId));
        Volatile.Write(ref connection.Self, child);
        Watch(connection);
        // Accepted while the shard hands its socket over: it drains from the start.
        if (_socket.Retiring && _socket.GracefulDeadline) child.Tell(DrainConnection());
        return child;
    }

    private void Watch(ConnectionState connection)
    {
        if (connection.Watched) return;
        connection.Watched = true;
        _socket.Connections.Add(connection);
    }

    /// <summary>Gives each connection waiting in this shard its actor, so that what is said to the shard's children reaches it.</summary>
    private void AdoptWaitingConnections()
    {
        foreach (var connection in _socket.Connections)
            if (!connection.Finished && !connection.HasActor)
                HandToActor(connection);
    }

    /// <summary>How often the sweep looks: a quarter of the idle, request-head and linger timeouts (so each is kept within 25%), 10 ms to 1 s.</summary>
    internal static TimeSpan SweepInterval(ListenerSettings settings)
    {
        var shortest = Math.Min(Math.Min(settings.IdleTimeout.Ticks, settings.RequestHeadTimeout.Ticks), settings.LingerTimeout.Ticks) / 4;
        return TimeSpan.FromTicks(Math.Clamp(shortest, TimeSpan.FromMilliseconds(10).Ticks, TimeSpan.FromSeconds(1).Ticks));
    }

    /// <summary>
    /// Tells each connection idle for the idle timeout, or with a request incomplete for the request-head timeout, to
    /// check itself (it decides: it may have had activity since), and each whose graceful close waited its linger time for the peer's FIN that the wait is over; drops finished ones.
    /// </summary>
    private void SweepConnections()
    {
        var now = Environment.TickCount64;
        var idleTimeout = (long)_settings.IdleTimeout.TotalMilliseconds;
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
            if (due) c.Self.Tell(Connection.Connection.DeadlineCheck.Instance);
            if (lingered) c.Self.Tell(Connection.Connection.LingerExpired.Instance);
        }
    }

    /// <summary>Ends a connection like a retired handler generation's: told it drains, closed gracefully at the shard's drain deadline.</summary>
    private Connection.Connection.RetireGeneration DrainConnection()
    {
        var left = _socket.DrainDeadline - DateTime.UtcNow;
        return new Connection.Connection.RetireGeneration(int.MaxValue, left > TimeSpan.Zero ? left : TimeSpan.Zero);
    }

    private void BeginRetire(TimeSpan drainTimeout, bool drainQueue)
    {
        var deadline = DateTime.UtcNow + drainTimeout;
        if (_socket.Retiring)
        {
            // Already retiring (a scale-down, then shutdown): a nearer deadline wins, and shutdown stops waiting for the
            // queue.
            if (deadline < _socket.DrainDeadline)
            {
                _socket.DrainDeadline = deadline;
                ArmDrainDeadline();
            }
            if (!drainQueue && _socket.DrainingQueue)
            {
                _socket.ClosingAtOnce = true;
                CloseSocket("retired again for shutdown");
            }
            TryFinish();
            return;
        }
        _socket.Retiring = true;
        _socket.DrainDeadline = deadline;
        Timers.Cancel("accept-backoff");
        if (drainQueue)
        {
            // New connections go to the other sockets now (or nowhere else: a removed listener); accept what is queued
            // (and what is still in flight) until the queue stays empty, then close.
            _socket.DrainingQueue = true;
            _socket.QueueDeadline = DateTime.UtcNow + _settings.RetireQueueTimeout;
            _socket.QuietSince = DateTime.UtcNow;
            _log.Info("Shard {Listener}/{Shard} retiring: draining the accept queue of socket inode {Inode} until it stays empty ({Open} open connections, deadline {Deadline})",
                _settings.Name, ShardId, _socket.Inode, Context.GetChildren().Count(), drainTimeout);
            ArmQuietCheck();
            Self.Tell(Listener.ResumeAccepting.Instance);
        }
        else
        {
            _log.Info("Shard {Listener}/{Shard} retiring: closing socket inode {Inode}, draining {Open} connections (deadline {Deadline})",
                _settings.Name, ShardId, _socket.Inode, Context.GetChildren().Count(), drainTimeout);
            // Closed by the coordinator too (see CloseSocket); TryFinish waits for its answer.
            _socket.DrainingQueue = true;
            _socket.ClosingAtOnce = true;
            CloseSocket("shutdown");
        }
        ArmDrainDeadline();
        TryFinish();
    }

    private void ArmQuietCheck()
    {
        var every = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(10).Ticks, _settings.RetireQuietPeriod.Ticks / 4));
        Timers.StartPeriodicTimer("quiet-check", Listener.QuietCheck.Instance, every);
    }

    /// <summary>Closes the socket of a draining shard once its queue stayed empty for the quiet period (or time ran out).</summary>
    private void OnQuietCheck()
    {
        if (!_socket.DrainingQueue || _socket.CloseRequested) return;
        var now = DateTime.UtcNow;
        if (now >= _socket.QueueDeadline)
        {
            CloseSocket("the accept queue did not stay empty within retire-queue-timeout");
            TryFinish();
            return;
        }
        if (now - _socket.QuietSince < _settings.RetireQuietPeriod || QueueLength() > 0) return;
        CloseSocket("its accept queue stayed empty");
        TryFinish();
    }

    private int QueueLength()
    {
        try
        {
            return Runtime.Sockets.ListenerDrain.QueueLength(_socket.Socket);
        }
        catch (Exception e) when (e is SocketException or InvalidOperationException or ObjectDisposedException)
        {
            return 0;
        }
    }

    /// <summary>
    /// Asks the coordinator to close the listening socket (a pending accept then completes with OperationAborted):
    /// it closes it and updates the group model in one step. The shard goes on draining until <see cref="Listener.SocketClosed"/>.
    /// </summary>
    private void CloseSocket(string why)
    {
        if (_socket.CloseRequested) return;
        _socket.CloseRequested = true;
        Timers.Cancel("quiet-check");
        var queued = _socket.IsDisposed ? 0 : QueueLength();
        if (_socket.Shared)
            _log.Info("Shard {Listener}/{Shard} lets go of socket inode {Inode}: the successor accepts on it ({Queued} queued connections are its)",
                _settings.Name, ShardId, _socket.Inode, queued);
        else if (queued > 0)
            _log.Warning("Shard {Listener}/{Shard} closing socket inode {Inode} with {Queued} connections still queued ({Why})",
                _settings.Name, ShardId, _socket.Inode, queued, why);
        else
            _log.Info("Shard {Listener}/{Shard} closing socket inode {Inode} after draining {Drained} queued connections ({Why})",
                _settings.Name, ShardId, _socket.Inode, _socket.DrainedFromQueue, why);
        Context.Parent.Tell(new Listener.ReadyToClose(ShardId, _socket.DrainedFromQueue, queued, _socket.SteeringChangesSeen, _socket.ClosingAtOnce));
    }

    private void OnSocketClosed()
    {
        _socket.Dispose(); // idempotent: the coordinator closed it
        _socket.DrainingQueue = false;
        TryFinish();
    }

    private void ArmDrainDeadline()
    {
        var left = _socket.DrainDeadline - DateTime.UtcNow;
        if (left <= TimeSpan.Zero) Self.Tell(Listener.DrainDeadline.Instance);
        else Timers.StartSingleTimer("drain-deadline", Listener.DrainDeadline.Instance, left);
    }

    private void OnDrainDeadline()
    {
        if (_socket.DrainingQueue) CloseSocket("the drain deadline passed");
        AdoptWaitingConnections();
        var open = Context.GetChildren().Count();
        if (_socket.GracefulDeadline && !_socket.GracefulCloseSent && open > 0)
        {
            _socket.GracefulCloseSent = true;
            var grace = _settings.LingerTimeout + TimeSpan.FromSeconds(1);
            _log.Info("Shard {Listener}/{Shard} drain deadline passed; closing {Open} connections gracefully (aborting what is left after {Grace})",
                _settings.Name, ShardId, open, grace);
            var close = new Connection.Connection.RetireGeneration(int.MaxValue, TimeSpan.Zero);
            foreach (var child in Context.GetChildren()) child.Tell(close);
            _socket.DrainDeadline = DateTime.UtcNow + grace;
            ArmDrainDeadline();
            return;
        }
        _log.Warning("Shard {Listener}/{Shard} drain deadline passed; aborting {Open} connections", _settings.Name, ShardId, open);
        foreach (var child in Context.GetChildren())
            child.Tell(Connection.Connection.Abort.DrainDeadline);
        if (_socket.Parked is { } parked)
        {
            _socket.Parked = null;
            parked.SetAbortiveClose();
            parked.Close();
        }
        _budget.StopWaiting(Self);
        TryFinish();
    }

    /// <summary>A retiring shard stops once nothing is left: no connection, no parked one, no accept in flight.</summary>
    private void TryFinish()
    {
        if (!_socket.Retiring || _socket.DrainingQueue || HasConnections || _socket.Parked is not null || _socket.AcceptPending) return;
        _log.Info("Shard {Listener}/{Shard} retired", _settings.Name, ShardId);
        Context.Stop(Self);
    }
}
