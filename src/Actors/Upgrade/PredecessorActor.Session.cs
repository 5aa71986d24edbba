using ShardRuntime.Actors.Coordination;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using Akka.Hosting;
using ShardRuntime.Runtime.Systemd;
using ShardRuntime.Runtime.Upgrade;
using ControlProtocol = ShardRuntime.Actors.ControlSocket.Control;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Upgrade;

/// <summary>
/// The predecessor actor's states from the moment a successor spoke on the upgrade socket: the coordinator's answer,
/// the passing of the sockets, the stability watch, and letting go.
/// </summary>
internal sealed partial class PredecessorActor
{
    /// <summary>What the current state holds that must be let go of if the actor stops (a session, a watch, the upgrade connection).</summary>
    private IDisposable? _held;

    protected override void PostStop() => LetGoOfHeld();

    /// <summary>The state holds <paramref name="held"/> from now on, instead of what it held (which ended or was passed on).</summary>
    private void Hold(IDisposable? held) => _held = held;

    /// <summary>Ends what the state holds: a session is cancelled, a watch ends and closes the upgrade connection, a connection closes.</summary>
    private void LetGoOfHeld()
    {
        _held?.Dispose();
        _held = null;
    }

    /// <summary>A successor spoke: the coordinator decides whether it gets the sockets; the peer waits meanwhile (its step timeout bounds that).</summary>
    private void Ask(Attempt attempt, UpgradeSocketActor.PeerArrived peer, SuccessorProcess? process)
    {
        var session = new Session(peer.ProcessId);
        ArmTimeout(attempt);
        _coordinator.Ask<object>(new CoordinatorProtocol.PassSockets(peer.ProcessId), _settings.StepTimeout)
            .PipeTo(Self, success: answer => new Granted(answer), failure: e => new Granted(new Status.Failure(e)));
        Hold(session);
        Become(() => Asking(attempt, session, peer.Peer, process));
    }

    /// <summary>Waiting for the coordinator's answer; <paramref name="process"/> is the successor this node started, if it is that one.</summary>
    private void Asking(Attempt attempt, Session session, Socket peer, SuccessorProcess? process)
    {
        Receive<Granted>(m => OnGranted(attempt, session, peer, process, m.Answer));
        Receive<SuccessorProcess.Exited>(m => session.ProcessId == m.ProcessId, m => session.SuccessorExited(m.ExitCode));
        Receive<AttemptTimedOut>(_ => EndSession(session, process, NotReadyInTime()));
        Receive<Predecessor.Abort>(m => EndSession(session, process, m.Reason));
        Busy($"an upgrade is in progress (passing sockets to successor pid {session.ProcessId})");
    }

    private void OnGranted(Attempt attempt, Session session, Socket peer, SuccessorProcess? process, object answer)
    {
        if (answer is not CoordinatorProtocol.SocketsToPass sockets)
        {
            var reason = answer switch
            {
                _ when CommandFailedException.In(answer) is { } failed => failed.Reason,
                Status.Failure failure => $"the coordinator did not answer in time: {failure.Cause.Message}",
                var other => $"unexpected answer {other.GetType().Name}",
            };
            Hold(null);
            Refuse(peer, session.Why ?? reason);
            // The attempt ends here if the coordinator may have begun it (no answer in time), if it was this node's own
            // successor, or if this side had already ended it (abort, exit): it rolls back. A successor started by hand
            // that the coordinator refused began nothing.
            if ((answer is Status.Failure && CommandFailedException.In(answer) is null) || process is not null || session.Why is not null)
                RollBack(attempt, session.ProcessId, session.Why ?? reason);
            else
                Become(Idle);
            return;
        }

        var readyTimeout = attempt.Deadline - DateTime.UtcNow;
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
        server.ServeAsync(peer, sockets.Sockets, readyTimeout, session.Token)
            .PipeTo(Self, success: outcome => new SessionEnded(outcome),
                failure: e => new SessionEnded(new UpgradeOutcome(UpgradeResult.RolledBack, null, 0, $"the upgrade failed: {e.GetBaseException().Message}")));
        // The successor connected: it is no longer killed on timeout (the session is cancelled; a rollback ends it).
        Become(() => Passing(attempt, session));
    }

    /// <summary>The sockets go to the successor; the session ends with its outcome.</summary>
    private void Passing(Attempt attempt, Session session)
    {
        Receive<SessionEnded>(m => OnSessionEnded(attempt, session, m.Outcome));
        Receive<SuccessorProcess.Exited>(m => session.ProcessId == m.ProcessId, m => session.SuccessorExited(m.ExitCode));
        Receive<AttemptTimedOut>(_ => EndSession(session, null, NotReadyInTime()));
        Receive<Predecessor.Abort>(m => EndSession(session, null, m.Reason));
        Busy($"an upgrade is in progress (passing sockets to successor pid {session.ProcessId})");
    }

    /// <summary>Ends the session for <paramref name="reason"/> (the successor gets Abort); a successor of ours that has not connected is killed.</summary>
    private void EndSession(Session session, SuccessorProcess? process, string reason)
    {
        session.End(reason);
        if (process?.Kill() == true) _log.Warning("Upgrade: successor pid {Pid} killed: {Reason}", process.ProcessId, reason);
    }

    private void OnSessionEnded(Attempt attempt, Session session, UpgradeOutcome outcome)
    {
        Timers.Cancel(nameof(AttemptTimedOut));
        var pid = session.ProcessId;
        if (!outcome.IsCompleted)
        {
            if (session.NamedSuccessor) SystemdNotify.TryNotify($"MAINPID={Environment.ProcessId}"); // named, then the commit failed
            Hold(null);
            var reason = session.Why ?? outcome.Reason ?? outcome.Result.ToString();
            // A refused peer (its uid) got nothing and is not ended; a rolled-back one may hold copies of the sockets.
            RollBack(attempt, outcome.Result == UpgradeResult.RolledBack ? pid : null, reason);
            return;
        }
        _log.Info("Upgrade to pid {Peer} completed: {Count} sockets passed, {Declined} declined", pid, outcome.SocketsPassed, outcome.Declined.Count);
        if (outcome.Link is not { } link)
        {
            Hold(null);
            LetGo(attempt, pid, outcome, link: null);
            return;
        }
        var watch = new Watch(pid, link);
        Hold(watch);
        var period = _settings.StabilityPeriod;
        _log.Info("Upgrade: successor pid {Pid} accepts; this node holds its copies of the listening sockets, not accepting, and watches it for {Period}", pid, period);
        // A pid from another pid namespace reads as 0 here: it cannot be watched, only waited out.
        var exited = pid > 0
            ? PeerProcess.WaitForExitAsync(pid, period, watch.Token)
            : Task.Delay(period, watch.Token).ContinueWith(_ => false, TaskScheduler.Default);
        exited.PipeTo(Self, success: died => new WatchEnded(watch, died), failure: _ => new WatchEnded(watch, false));
        _coordinator.Tell(new CoordinatorProtocol.StandBy(pid, outcome.Declined));
        Become(() => Watching(attempt, watch, outcome));
    }

    /// <summary>The successor accepts; this node's shards are parked, and the successor is watched for the stability period.</summary>
    private void Watching(Attempt attempt, Watch watch, UpgradeOutcome outcome)
    {
        Receive<WatchEnded>(m => ReferenceEquals(m.Watch, watch) && !m.Died, _ =>
        {
            watch.StopWatching();
            LetGo(attempt, watch.ProcessId, outcome, watch.Link);
        });
        Receive<WatchEnded>(m => ReferenceEquals(m.Watch, watch), _ =>
            SuccessorFailed(attempt, $"successor pid {watch.ProcessId} exited within the stability period ({_settings.StabilityPeriod.TotalSeconds:0.###} s)"));
        Receive<Predecessor.Abort>(m =>
        {
            LetGoOfHeld();
            attempt.Requester?.Tell(CommandFailedException.Reply(CoordinatorProtocol.Upgrade.Instance, $"upgrade abandoned: {m.Reason}"));
            _coordinator.Tell(new CoordinatorProtocol.UpgradeFailed($"abandoned: {m.Reason}", SuccessorServed: true));
            Become(Idle);
        });
        Busy($"an upgrade is in progress (watching successor pid {watch.ProcessId} for the stability period)");
    }

    /// <summary>The successor died within the stability period: the node accepts on the same sockets again and takes its socket files back.</summary>
    private void SuccessorFailed(Attempt attempt, string reason)
    {
        LetGoOfHeld();
        var serving = $"{reason}; node {Environment.ProcessId} accepts on the same sockets again";
        _log.Error("Upgrade failed: {Reason}", serving);
        SystemdNotify.TryNotify($"MAINPID={Environment.ProcessId}");
        _coordinator.Tell(new CoordinatorProtocol.UpgradeFailed($"failed: {serving}", SuccessorServed: true));
        attempt.Requester?.Tell(CommandFailedException.Reply(CoordinatorProtocol.Upgrade.Instance, $"upgrade failed: {serving}"));
        // The successor had replaced the upgrade and control sockets' files: take the paths back.
        _socket.Tell(Predecessor.Claim.Instance);
        if (ActorRegistry.For(Context.System).TryGet<ControlProtocol.Marker>(out var control))
            control.Tell(ControlProtocol.Claim.Instance);
        Become(Idle);
    }

    /// <summary>The successor serves: who asked hears it, the coordinator closes its copies; the connection stays open until it did.</summary>
    private void LetGo(Attempt attempt, int pid, UpgradeOutcome outcome, IDisposable? link)
    {
        var generation = _options.ProcessGeneration + 1;
        attempt.Requester?.Tell(new CoordinatorProtocol.Upgraded(pid, generation, outcome.SocketsPassed, outcome.Declined));
        _coordinator.Tell(new CoordinatorProtocol.LetGoOfSockets(
            $"successor pid {pid} (process generation {generation}) accepts on {outcome.SocketsPassed} sockets", outcome.Declined));
        Hold(link);
        Become(() => LettingGo(pid));
    }

    /// <summary>The coordinator closes its copies of the sockets; the successor waits for the upgrade connection to close.</summary>
    private void LettingGo(int pid)
    {
        Receive<Predecessor.CopiesClosed>(_ =>
        {
            LetGoOfHeld();
            _log.Info("Upgrade: this node's copies of the listening sockets are closed; successor pid {Pid} has them alone", pid);
        });
        Busy($"this node let go of its listening sockets to successor pid {pid}");
    }

    /// <summary>One successor served on the upgrade connection.</summary>
    private sealed class Session(int processId) : IDisposable
    {
        private readonly CancellationTokenSource _cancel = new();

        public int ProcessId { get; } = processId;

        public CancellationToken Token => _cancel.Token;

        /// <summary>Why this side ended it (timeout, abort, the successor exited), to report instead of the protocol's view.</summary>
        public string? Why { get; private set; }

        /// <summary>systemd was told the successor is the main process (set from the upgrade's thread).</summary>
        public volatile bool NamedSuccessor;

        /// <summary>The successor exited: the session sees the connection end; this says why.</summary>
        public void SuccessorExited(int exitCode) => Why = $"successor pid {ProcessId} exited with code {exitCode} before it was ready";

        /// <summary>Ends the session (the successor gets Abort) for <paramref name="reason"/>, unless a reason was given already.</summary>
        public void End(string reason)
        {
            Why ??= reason;
            _cancel.Cancel();
        }

        public void Dispose() => _cancel.Cancel();
    }

    /// <summary>A successor that adopted the sockets, watched for the stability period; <see cref="Link"/> is the open upgrade connection.</summary>
    private sealed class Watch(int processId, IDisposable link) : IDisposable
    {
        private readonly CancellationTokenSource _cancel = new();

        public int ProcessId { get; } = processId;

        public IDisposable Link { get; } = link;

        public CancellationToken Token => _cancel.Token;

        /// <summary>The watch ended; the connection stays open.</summary>
        public void StopWatching() => _cancel.Cancel();

        public void Dispose()
        {
            _cancel.Cancel();
            Link.Dispose();
        }
    }

    private sealed record Granted(object Answer);

    private sealed record SessionEnded(UpgradeOutcome Outcome);

    private sealed record WatchEnded(Watch Watch, bool Died);
}
