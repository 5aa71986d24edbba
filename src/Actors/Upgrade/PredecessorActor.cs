using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using Akka.Hosting;
using ShardRuntime.Actors.Control;
using ShardRuntime.Actors.Coordination;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Upgrade;
using ShardRuntime.Runtime.Systemd;
using ShardRuntime.Runtime.Sockets;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Upgrade;

/// <summary>
/// The predecessor's side of an upgrade: serves the upgrade socket (<see cref="UnixSocketServerActor{TWaitUntilBound,TClaim}"/>:
/// Binding -> Serving or Failed, the file watched and bound again). One successor at a time: a peer of another uid is
/// refused and logged before anything else; a second peer while one is served is refused with the reason; the
/// coordinator decides whether an upgrade may start (<see cref="CoordinatorProtocol.PassSockets"/>) and hears how it
/// ended (<see cref="CoordinatorProtocol.UpgradeFinished"/>), exactly once per attempt. For an upgrade it also starts
/// the successor process and bounds the whole attempt by <see cref="UpgradeSettings.Timeout"/>: a successor that exits
/// first or is not ready in time means a rollback. A rolled-back successor that still runs is ended (SIGTERM, SIGKILL
/// after <see cref="UpgradeSettings.RollbackGrace"/>) before the coordinator hears of it, so that no copy of the
/// sockets outlives a rollback. After a completed upgrade it watches the successor for
/// <see cref="UpgradeSettings.StabilityPeriod"/> (its pidfd) and keeps the upgrade connection open until the
/// coordinator closed its copies of the sockets (<see cref="Predecessor.LetGo"/>); a successor that dies meanwhile makes
/// it take the upgrade socket's path back. Registered in the ActorRegistry under <see cref="Predecessor.Marker"/>.
/// </summary>
internal sealed class PredecessorActor : UnixSocketServerActor<Predecessor.WaitUntilBound, Predecessor.Claim>
{
    private readonly UpgradeSettings _settings;
    private readonly IActorRef _coordinator;
    private readonly UpgradeOptions _options;

    // The attempt in progress: a successor this node started (until it connects), and/or the session serving one.
    private SuccessorProcess? _successor;
    private DateTime _deadline;
    private Session? _session;

    // A successor that adopted the sockets and is watched for the stability period (then until the coordinator lets go).
    private Watch? _watch;

    public PredecessorActor(UpgradeSettings settings, IActorRef coordinator, UpgradeOptions options)
        : base(new UnixSocketServerSettings("Upgrade", settings.SocketPath, settings.StepTimeout, settings.CheckInterval, options.DeferSocketFiles))
    {
        _settings = settings;
        _coordinator = coordinator;
        _options = options;
    }

    protected override object BoundReply(string socketPath) => new Predecessor.Bound(socketPath);

    protected override object BindFailedReply(string socketPath, string reason) => new Predecessor.BindFailed(socketPath, reason);

    protected override void OnBound(string socketPath) =>
        Log.Info("Upgrade socket listening on {SocketPath}: a successor (`run --upgrade-from`) receives the listening sockets here", socketPath);

    protected override void ReceiveOwn()
    {
        Receive<Predecessor.StartSuccessor>(_ => StartSuccessor());
        Receive<SuccessorProcess.Exited>(OnSuccessorExited);
        Receive<AttemptTimedOut>(_ => OnTimedOut());
        Receive<Predecessor.Abort>(m =>
        {
            EndWatch();
            EndAttempt(m.Reason);
        });
        Receive<Predecessor.LetGo>(_ => EndWatch());
        Receive<WatchEnded>(OnWatchEnded);
        Receive<SuccessorEnded>(m =>
        {
            Log.Warning("Upgrade rolled back: successor {How}", m.How);
            _coordinator.Tell(new CoordinatorProtocol.UpgradeFinished(m.ProcessId, m.Outcome with { Reason = $"{m.Outcome.Reason}; the successor was ended: {m.How}" }));
        });
        Receive<PeerSpoke>(OnPeerSpoke);
        Receive<Granted>(Serve);
        Receive<SessionEnded>(OnSessionEnded);
    }

    /// <summary>
    /// Never restarts: a restart would close the upgrade socket and forget the attempt in progress (whose outcome the
    /// coordinator waits for). A failure in a handler is logged and the actor carries on with its state.
    /// </summary>
    protected override bool AroundReceive(Receive receive, object message)
    {
        try
        {
            return base.AroundReceive(receive, message);
        }
        catch (Exception e)
        {
            Log.Error(e, "Upgrade actor failed on {Message}; it carries on", message.GetType().Name);
            return true;
        }
    }

    protected override void PreStart()
    {
        base.PreStart();
        ActorRegistry.For(Context.System).Register<Predecessor.Marker>(Self, overwrite: true);
        if (_options.DeferSocketFiles)
            Log.Info("Upgrade socket {SocketPath} is claimed once the predecessor let go of the listening sockets", _settings.SocketPath);
    }

    protected override void PostStop()
    {
        EndWatch();
        _session?.Cancel.Cancel();
        base.PostStop();
    }

    protected override void OnPeer(Socket peer)
    {
        PeerCredentials credentials;
        try
        {
            credentials = PeerCredentials.Of(peer);
        }
        catch (Exception e) when (e is SocketException or InvalidOperationException)
        {
            Log.Warning("Upgrade peer refused: its credentials could not be read: {Error}", e.Message);
            Refuse(peer, "permission denied: the peer's credentials could not be read");
            return;
        }
        if (UpgradePeer.Refusal(credentials, ProcessIdentity.EffectiveUserId) is { } refusal)
        {
            Log.Warning("Upgrade peer pid {Peer} refused: it runs as uid {PeerUid}, the node as uid {NodeUid}; no socket was passed",
                credentials.ProcessId, credentials.UserId, ProcessIdentity.EffectiveUserId);
            Refuse(peer, refusal);
            return;
        }
        var pid = credentials.ProcessId;
        UpgradePeer.SpeaksAsync(peer, _settings.StepTimeout)
            .PipeTo(Self, success: spoke => new PeerSpoke(peer, pid, spoke), failure: _ => new PeerSpoke(peer, pid, false));
    }

    private void OnPeerSpoke(PeerSpoke m)
    {
        var own = _successor?.Is(m.ProcessId) == true;
        if (!m.Spoke)
        {
            m.Peer.Dispose();
            Log.Info("Upgrade peer pid {Peer} said nothing in time or left; nothing was passed", m.ProcessId);
            if (own)
            {
                _successor = null;
                Report(m.ProcessId, RolledBack($"successor pid {m.ProcessId} connected but sent nothing within {_settings.StepTimeout.TotalSeconds:0.###} s"));
            }
            return;
        }
        if (_session is not null)
        {
            var reason = $"an upgrade is in progress (passing sockets to successor pid {_session.ProcessId})";
            Log.Warning("Upgrade peer pid {Peer} refused: {Reason}", m.ProcessId, reason);
            Refuse(m.Peer, reason);
            return;
        }
        // The coordinator decides; the peer waits meanwhile (its step timeout bounds that).
        _session = new Session(m.ProcessId, new CancellationTokenSource());
        _coordinator.Ask<object>(new CoordinatorProtocol.PassSockets(m.ProcessId), _settings.StepTimeout)
            .PipeTo(Self, success: answer => new Granted(m.Peer, m.ProcessId, answer), failure: e => new Granted(m.Peer, m.ProcessId, new Status.Failure(e)));
    }

    private void Serve(Granted granted)
    {
        if (granted.Answer is not CoordinatorProtocol.SocketsToPass sockets)
        {
            var refused = _session;
            var reason = granted.Answer switch
            {
                CoordinatorProtocol.CommandFailed failed => failed.Reason,
                Status.Failure failure => $"the coordinator did not answer in time: {failure.Cause.Message}",
                var other => $"unexpected answer {other.GetType().Name}",
            };
            _session = null;
            refused?.Cancel.Dispose();
            Refuse(granted.Peer, refused?.Why ?? reason);
            // An attempt ends here if the coordinator may have begun it (no answer in time), if it was this node's own
            // successor, or if this side had already ended it (abort, exit): report it, or the upgrade would hang.
            var ownSuccessor = _successor?.Is(granted.ProcessId) == true;
            if (granted.Answer is Status.Failure || ownSuccessor || refused?.Why is not null)
            {
                if (ownSuccessor) _successor = null;
                Report(granted.ProcessId, RolledBack(refused?.Why ?? reason));
            }
            return;
        }

        // The peer is the successor this node started: it connected, so it is no longer killed on timeout.
        if (_successor?.Is(granted.ProcessId) == true) _successor = null;
        if (_deadline == default) _deadline = DateTime.UtcNow + _settings.Timeout;
        ArmTimeout();
        var session = _session!;
        var readyTimeout = _deadline - DateTime.UtcNow;
        if (readyTimeout < TimeSpan.FromMilliseconds(1)) readyTimeout = TimeSpan.FromMilliseconds(1);
        var server = new UpgradeServer(_settings.BatchSize, _settings.StepTimeout)
        {
            ProcessGeneration = sockets.ProcessGeneration,
            HoldAfterRelease = _settings.StabilityPeriod,
            // Under systemd this node is the main process: it names its successor before it lets go, so systemd never
            // sees the main process exit without one (the successor confirms once it adopted the sockets).
            OnReady = pid =>
            {
                session.NamedSuccessor = true;
                SystemdNotify.TryNotify($"MAINPID={pid}");
            },
        };
        server.ServeAsync(granted.Peer, sockets.Sockets, readyTimeout, session.Cancel.Token)
            .PipeTo(Self, success: outcome => new SessionEnded(session, outcome),
                failure: e => new SessionEnded(session, new UpgradeOutcome(UpgradeResult.RolledBack, null, 0, $"the upgrade failed: {e.GetBaseException().Message}")));
    }

    private void OnSessionEnded(SessionEnded ended)
    {
        if (!ReferenceEquals(ended.Session, _session)) return;
        _session = null;
        var outcome = ended.Outcome;
        if (!outcome.IsCompleted && ended.Session.Why is { } why)
            outcome = outcome with { Reason = why };
        if (!outcome.IsCompleted && ended.Session.NamedSuccessor)
            SystemdNotify.TryNotify($"MAINPID={Environment.ProcessId}"); // the successor was named, then the commit failed
        ended.Session.Cancel.Dispose();
        if (outcome.IsCompleted)
        {
            Log.Info("Upgrade to pid {Peer} completed: {Count} sockets passed, {Declined} declined", ended.Session.ProcessId, outcome.SocketsPassed, outcome.Declined.Count);
            if (outcome.Link is { } link) StartWatch(ended.Session.ProcessId, link);
        }
        Report(ended.Session.ProcessId, outcome);
    }

    /// <summary>Watches the successor that adopted the sockets for the stability period: its exit (pidfd) ends the watch early.</summary>
    private void StartWatch(int pid, IDisposable link)
    {
        EndWatch();
        var watch = new Watch(pid, link, new CancellationTokenSource());
        _watch = watch;
        var period = _settings.StabilityPeriod;
        Log.Info("Upgrade: successor pid {Pid} accepts; this node holds its copies of the listening sockets, not accepting, and watches it for {Period}",
            pid, period);
        // A pid from another pid namespace reads as 0 here: it cannot be watched, only waited out.
        var exited = pid > 0
            ? PeerProcess.WaitForExitAsync(pid, period, watch.Cancel.Token)
            : Task.Delay(period, watch.Cancel.Token).ContinueWith(_ => false, TaskScheduler.Default);
        exited.PipeTo(Self, success: died => new WatchEnded(watch, died), failure: _ => new WatchEnded(watch, false));
    }

    private void OnWatchEnded(WatchEnded ended)
    {
        if (!ReferenceEquals(ended.Watch, _watch) || ended.Watch.Cancel.IsCancellationRequested) return;
        if (!ended.Died)
        {
            // The connection stays open until the coordinator closed its copies (LetGo): the successor waits for that.
            _coordinator.Tell(new CoordinatorProtocol.SuccessorStable(ended.Watch.ProcessId));
            return;
        }
        EndWatch();
        var reason = $"successor pid {ended.Watch.ProcessId} exited within the stability period ({_settings.StabilityPeriod.TotalSeconds:0.###} s)";
        Log.Error("Upgrade failed: {Reason}; this node accepts on its listening sockets again", reason);
        _coordinator.Tell(new CoordinatorProtocol.SuccessorDied(ended.Watch.ProcessId, reason));
        // The successor had replaced the upgrade socket's file: take the path back.
        Reclaim(null);
    }

    private void EndWatch()
    {
        if (_watch is not { } watch) return;
        _watch = null;
        watch.Cancel.Cancel();
        watch.Link.Dispose();
    }

    private void StartSuccessor()
    {
        if (_options.StartSuccessor is null || BoundSocket is null)
        {
            Report(null, RolledBack(BoundSocket is null ? $"the upgrade socket is not served: {BindFailure ?? "not bound yet"}" : "no successor command"));
            return;
        }
        SuccessorProcess process;
        try
        {
            process = new SuccessorProcess(_options.StartSuccessor(BoundSocket.Path));
        }
        catch (Exception e)
        {
            Log.Error(e, "Upgrade: the successor could not be started: {Error}", e.Message);
            Report(null, RolledBack($"the successor could not be started: {e.Message}"));
            return;
        }
        _successor = process;
        process.ReportExitTo(Self);
        _deadline = DateTime.UtcNow + _settings.Timeout;
        ArmTimeout();
        Log.Info("Upgrade: successor pid {Pid} started; it has {Timeout} to adopt the sockets", process.ProcessId, _settings.Timeout);
        _coordinator.Tell(new CoordinatorProtocol.SuccessorStarted(process.ProcessId));
    }

    private void OnSuccessorExited(SuccessorProcess.Exited exited)
    {
        if (_session is { } session && session.ProcessId == exited.ProcessId)
        {
            // The session sees the connection end; say why.
            session.Why = $"successor pid {exited.ProcessId} exited with code {exited.ExitCode} before it was ready";
            return;
        }
        if (_successor?.Is(exited.ProcessId) == true)
        {
            _successor = null;
            Report(exited.ProcessId, RolledBack($"successor pid {exited.ProcessId} exited with code {exited.ExitCode} before it connected to the upgrade socket"));
        }
    }

    private void OnTimedOut()
    {
        if (_session is null && _successor is null) return;
        EndAttempt($"the successor was not ready within {_settings.Timeout.TotalSeconds:0.###} s (shard-runtime.upgrade.timeout)");
    }

    /// <summary>Abandons the attempt: a session is cancelled (the successor gets Abort), a successor that never connected is killed.</summary>
    private void EndAttempt(string reason)
    {
        if (_session is { } session)
        {
            session.Why ??= reason;
            session.Cancel.Cancel();
        }
        if (_successor is not { } process) return;
        _successor = null;
        if (process.Kill()) Log.Warning("Upgrade: successor pid {Pid} killed: {Reason}", process.ProcessId, reason);
        if (_session is null) Report(process.ProcessId, RolledBack(reason));
    }

    private void Report(int? pid, UpgradeOutcome outcome)
    {
        Timers.Cancel(nameof(AttemptTimedOut));
        _deadline = default;
        // Never this process itself (a peer in the same process, as in the actor-level specs): it would end the node.
        if (outcome.Result == UpgradeResult.RolledBack && pid is { } successor && successor != Environment.ProcessId && PeerProcess.IsAlive(successor))
        {
            // Rolled back but running (stopped, stuck, or standing down): it may hold copies of the sockets, and would
            // keep them in their reuseport groups. It is ended, and gone, before the rollback counts as done.
            Log.Warning("Upgrade rolled back ({Reason}); ending successor pid {Pid}: SIGTERM, SIGKILL after {Grace}",
                outcome.Reason, successor, _settings.RollbackGrace);
            PeerProcess.EndAsync(successor, _settings.RollbackGrace)
                .PipeTo(Self, success: how => new SuccessorEnded(successor, outcome, how),
                    failure: e => new SuccessorEnded(successor, outcome, $"pid {successor} could not be ended: {e.GetBaseException().Message}"));
            return;
        }
        _coordinator.Tell(new CoordinatorProtocol.UpgradeFinished(pid, outcome));
    }

    private void ArmTimeout()
    {
        var left = _deadline - DateTime.UtcNow;
        Timers.StartSingleTimer(nameof(AttemptTimedOut), AttemptTimedOut.Instance, left > TimeSpan.Zero ? left : TimeSpan.Zero);
    }

    private void Refuse(Socket peer, string reason) =>
        _ = UpgradeServer.RefuseAsync(peer, reason, _settings.StepTimeout);

    private static UpgradeOutcome RolledBack(string reason) => new(UpgradeResult.RolledBack, null, 0, reason);

    private sealed class Session(int processId, CancellationTokenSource cancel)
    {
        public int ProcessId { get; } = processId;
        public CancellationTokenSource Cancel { get; } = cancel;

        /// <summary>Why this side ended it (timeout, abort, the successor exited), to report instead of the protocol's view.</summary>
        public string? Why { get; set; }

        /// <summary>systemd was told the successor is the main process (set from the upgrade's thread).</summary>
        public volatile bool NamedSuccessor;
    }

    /// <summary>A successor that adopted the sockets, watched for the stability period; <paramref name="Link"/> is the open upgrade connection.</summary>
    private sealed record Watch(int ProcessId, IDisposable Link, CancellationTokenSource Cancel);

    private sealed record WatchEnded(Watch Watch, bool Died);

    private sealed record SuccessorEnded(int ProcessId, UpgradeOutcome Outcome, string How);

    private sealed record PeerSpoke(Socket Peer, int ProcessId, bool Spoke);

    private sealed record Granted(Socket Peer, int ProcessId, object Answer);

    private sealed record SessionEnded(Session Session, UpgradeOutcome Outcome);

    private sealed class AttemptTimedOut
    {
        public static readonly AttemptTimedOut Instance = new();
        private AttemptTimedOut() { }
    }
}
