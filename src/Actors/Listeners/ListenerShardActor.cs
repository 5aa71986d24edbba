using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using ShardRuntime.Actors.Connections;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Connections;
using ShardRuntime.Runtime.Loading;
using ShardRuntime.Runtime.Sockets;
using ShardRuntime.Runtime.Sockets.Readiness;

namespace ShardRuntime.Actors.Listeners;

/// <summary>
/// Owns one listening socket of a listener: accepts, runs each connection's first turn and makes a
/// <see cref="ConnectionActor"/> child for each connection that outlives it. Its states (<see cref="ShardPhase"/>, each a
/// behaviour): accepting (pausing at max-connections or backing off after a resource error), parked, retiring (accepting
/// what is still queued until its group closes the socket), closing (letting its connections finish), then it stops.
/// The shard never closes its socket: its reuseport group's actor, its parent, alone does, and tells it
/// <see cref="Listener.SocketClosed"/>. The socket and everything about the shard that must outlive the actor instance
/// live in <see cref="ShardSocket"/>, so a crash of this actor closes nothing: the restart keeps the children and
/// continues where it was, in the same phase.
/// </summary>
internal sealed class ListenerShardActor : UntypedActor, IWithTimers
{
    /// <summary>Accepts handled in one go before the shard yields to its mailbox.</summary>
    private const int AcceptBatch = 32;

    private readonly ListenerSettings _settings;
    private readonly ShardSocket _socket;
    private readonly ConnectionBudget _budget;
    private readonly ShardCounters _counters;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ShardConnections _connections;
    private TimeSpan _backoff;

    public ListenerShardActor(ShardListener listener, ShardSocket socket, ShardCounters counters)
    {
        _settings = listener.Settings;
        _socket = socket;
        _budget = listener.Budget;
        _counters = counters;
        _backoff = listener.Settings.AcceptBackoff;
        _connections = new ShardConnections(Context, listener, socket, counters, _log);
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
        Timers.StartPeriodicTimer("sweep", Listener.SweepConnections.Instance, ShardConnections.SweepInterval(_settings));
        // After a restart the children (open connections) are still here; each tells when it ends (ConnectionEnded).
        var open = _counters.Open;
        Become(Behaviour(_socket.Phase));
        if (_socket.Retiring)
        {
            _log.Info("Shard {Listener}/{Shard} resumed {Phase} with {Open} open connections", _settings.Name, ShardId, _socket.Phase, open);
            ArmDrainDeadline();
        }
        else
        {
            _log.Info("Shard {Listener}/{Shard} {Phase} on {EndPoint} (socket inode {Inode}, {Open} open connections)",
                _settings.Name, ShardId, _socket.Phase == ShardPhase.Parked ? "parked" : "accepting", _socket.EndPoint, _socket.Inode, open);
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
        // The socket is the group's: it closed it already (a retired shard), or starts a new shard actor on it.
    }

    protected override void OnReceive(object message) => Behaviour(_socket.Phase)(message);

    private UntypedReceive Behaviour(ShardPhase phase) => phase switch
    {
        ShardPhase.Accepting => Accepting,
        ShardPhase.Parked => Parked,
        ShardPhase.Retiring => Retiring,
        _ => Closing,
    };

    /// <summary>Moves to <paramref name="phase"/>: recorded in the socket (for a restarted actor and the connections), and the behaviour.</summary>
    private void Enter(ShardPhase phase)
    {
        _socket.Phase = phase;
        Become(Behaviour(phase));
    }

    /// <summary>Accepting: new connections are accepted and served.</summary>
    private void Accepting(object message)
    {
        switch (message)
        {
            case Listener.Park:
                Enter(ShardPhase.Parked);
                _log.Info("Shard {Listener}/{Shard} parked: the successor accepts on socket inode {Inode}; this copy stays open, not accepting",
                    _settings.Name, ShardId, _socket.Inode);
                break;
            default:
                Serving(message);
                break;
        }
    }

    /// <summary>Parked: the socket stays open without accepting; connections are served.</summary>
    private void Parked(object message)
    {
        switch (message)
        {
            case Listener.Resume:
                Enter(ShardPhase.Accepting);
                _log.Info("Shard {Listener}/{Shard} accepting again on socket inode {Inode}", _settings.Name, ShardId, _socket.Inode);
                Self.Tell(Listener.ResumeAccepting.Instance);
                break;
            default:
                Serving(message);
                break;
        }
    }

    /// <summary>Retiring: accepts what is still queued until the group closes the socket.</summary>
    private void Retiring(object message)
    {
        switch (message)
        {
            case Listener.SocketClosed:
                Enter(ShardPhase.Closing);
                TryFinish();
                break;
            default:
                Serving(message);
                break;
        }
    }

    /// <summary>Closing: the socket is closed; the connections finish (or are closed at the deadline), then the shard stops.</summary>
    private void Closing(object message) => Serving(message);

    /// <summary>What every phase handles alike: accepting (each step checks the phase), connections, retirement, deadlines.</summary>
    private void Serving(object message)
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
                ResumeAccepting();
                TryFinish();
                break;
            case Listener.Retire retire:
                Retire(retire.Mode, retire.DrainTimeout);
                break;
            case Listener.GenerationChanged changed:
                _connections.AdoptWaiting();
                var retireGeneration = new Connections.Connection.RetireGeneration(changed.Current, changed.DrainTimeout);
                _connections.TellAll(retireGeneration);
                break;
            case Listener.SweepConnections:
                _connections.Sweep();
                TryFinish();
                break;
            case Listener.ConnectionsReadable:
                while (_socket.Readable.TryTake(out var connection)) _connections.OnReadable(connection);
                TryFinish();
                break;
            case Listener.DrainDeadline when _socket.Retiring:
                OnDrainDeadline();
                break;
            case Listener.Park or Listener.Resume or Listener.SocketClosed or Listener.DrainDeadline:
                break; // not for this phase (a parked or retiring shard is not parked again; a stale deadline)
            default:
                Unhandled(message);
                break;
        }
    }

    /// <summary>After a back-off or a restart: accepts again once the process holds its descriptor reserve and is clear of its limit.</summary>
    private void ResumeAccepting()
    {
        if (!DescriptorReserve.TryHold())
        {
            BackOff("too few file descriptors to hold the reserve back");
            return;
        }
        if (DescriptorReserve.IsNearLimit())
        {
            BackOff($"{SocketError.TooManyOpenSockets}: the process is still at its descriptor limit");
            return;
        }
        Accept();
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
                _connections.Spawn(parked);
                continue;
            }
            if (_socket.Phase is ShardPhase.Parked or ShardPhase.Closing || _socket.AcceptPending || _socket.IsDisposed) return;
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
            _socket.LastAcceptedAt = Environment.TickCount64; // a retiring socket's group waits for this to stay quiet
            if (_socket.Retiring) _socket.DrainedFromQueue++;
            if (_budget.TryAcquireOrWait(Self))
            {
                // Connections leave the process's last descriptors to the runtime: past that line, pause as at EMFILE.
                var nearLimit = DescriptorReserve.IsNearLimit(accepted.Value);
                _connections.Spawn(accepted.Value);
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
    /// The group retires this shard: it accepts what is still queued (<see cref="RetireMode.DrainQueue"/>) until the group
    /// closes the socket, and its connections get until the deadline. Told again, a nearer deadline wins.
    /// </summary>
    private void Retire(RetireMode mode, TimeSpan drainTimeout)
    {
        var deadline = DateTime.UtcNow + drainTimeout;
        if (_socket.Retiring)
        {
            // Already retiring (a scale-down, then shutdown): a nearer deadline wins.
            if (deadline < _socket.DrainDeadline)
            {
                _socket.DrainDeadline = deadline;
                ArmDrainDeadline();
            }
            TryFinish();
            return;
        }
        _socket.RetireMode = mode;
        _socket.DrainDeadline = deadline;
        Timers.Cancel("accept-backoff");
        Enter(ShardPhase.Retiring);
        _log.Info("Shard {Listener}/{Shard} retiring ({Mode}) on socket inode {Inode}: {Open} open connections, deadline {Deadline}",
            _settings.Name, ShardId, mode, _socket.Inode, _counters.Open, drainTimeout);
        if (mode == RetireMode.LetGo)
        {
            _connections.AdoptWaiting();
            // The connections learn now that they drain (a protocol can end at its next boundary) and get the deadline.
            _connections.TellAll(_connections.Drain());
        }
        // Whatever is queued (and still in flight) is accepted until the group closes the socket.
        if (mode == RetireMode.DrainQueue) Self.Tell(Listener.ResumeAccepting.Instance);
        ArmDrainDeadline();
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
        _connections.AdoptWaiting();
        var open = _connections.WithActors;
        if (_socket.RetireMode == RetireMode.LetGo && !_socket.GracefulCloseSent && open > 0)
        {
            _socket.GracefulCloseSent = true;
            var grace = _settings.LingerTimeout + TimeSpan.FromSeconds(1);
            _log.Info("Shard {Listener}/{Shard} drain deadline passed; closing {Open} connections gracefully (aborting what is left after {Grace})",
                _settings.Name, ShardId, open, grace);
            var close = new Connections.Connection.RetireGeneration(int.MaxValue, TimeSpan.Zero);
            _connections.TellAll(close);
            _socket.DrainDeadline = DateTime.UtcNow + grace;
            ArmDrainDeadline();
            return;
        }
        if (open > 0)
            _log.Warning("Shard {Listener}/{Shard} drain deadline passed; aborting {Open} connections", _settings.Name, ShardId, open);
        _connections.TellAll(Connections.Connection.Abort.DrainDeadline);
        if (_socket.Parked is { } parked)
        {
            _socket.Parked = null;
            parked.SetAbortiveClose();
            parked.Close();
        }
        _budget.StopWaiting(Self);
        TryFinish();
    }

    /// <summary>A shard whose socket is closed stops once nothing is left: no connection, no parked one, no accept in flight.</summary>
    private void TryFinish()
    {
        if (_socket.Phase != ShardPhase.Closing || HasConnections || _socket.Parked is not null || _socket.AcceptPending) return;
        _log.Info("Shard {Listener}/{Shard} retired", _settings.Name, ShardId);
        Context.Stop(Self);
    }
}
