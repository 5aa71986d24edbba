using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using ShardRuntime.Actors.Coordination;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Upgrade;
using ControlProtocol = ShardRuntime.Actors.ControlSocket.Control;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Upgrade;

/// <summary>
/// The predecessor's side of an upgrade, one attempt at a time, as states:
/// <c>Idle</c> -> <c>Starting</c> (the successor process it started for an <see cref="Predecessor.StartSuccessor"/>
/// has not connected yet) -> <c>Asking</c> (a successor connected and spoke; the coordinator decides whether it gets
/// the sockets) -> <c>Passing</c> (the sockets go over the upgrade connection) -> <c>Watching</c> (the successor
/// accepts; it is watched for <see cref="UpgradeSettings.StabilityPeriod"/> by its pidfd) -> <c>LettingGo</c> (the
/// coordinator closes its copies; the connection stays open until it did) -> <c>LetGo</c>. A successor started by hand
/// enters at <c>Asking</c>. A failure anywhere before the successor serves ends in <c>RollingBack</c> (a successor that
/// still runs is ended, SIGTERM then SIGKILL after <see cref="UpgradeSettings.RollbackGrace"/>, so that no copy of the
/// sockets outlives a rollback) and then <c>Idle</c>; a successor that dies while watched makes the node accept again.
/// The whole attempt is bounded by <see cref="UpgradeSettings.Timeout"/>. Who asked hears how it ended, once; the
/// coordinator hears what to do with its sockets (<see cref="CoordinatorProtocol.StandBy"/>,
/// <see cref="CoordinatorProtocol.LetGoOfSockets"/>, <see cref="CoordinatorProtocol.UpgradeFailed"/>). The upgrade
/// socket itself is its child's (<see cref="UpgradeSocketActor"/>).
/// </summary>
internal sealed partial class PredecessorActor : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly UpgradeSettings _settings;
    private readonly IActorRef _coordinator;
    private readonly UpgradeOptions _options;
    private IActorRef _socket = ActorRefs.Nobody;

    /// <summary>Why the upgrade socket is not served (null while it is): successors cannot be started then.</summary>
    private string? _notServed = "the upgrade socket is not bound yet";

    public PredecessorActor(UpgradeSettings settings, IActorRef coordinator, UpgradeOptions options)
    {
        _settings = settings;
        _coordinator = coordinator;
        _options = options;
        Become(Idle);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>The upgrade socket actor keeps its socket through a failure in a handler (a restart would bind it anew).</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Resume);

    protected override void PreStart() =>
        _socket = Context.ActorOf(UpgradeSocketActor.Props(_settings, _options.DeferSocketFiles), Predecessor.SocketActorName);

    /// <summary>
    /// Never restarts: a restart would forget the attempt in progress (whose outcome the coordinator waits for). A
    /// failure in a handler is logged and the actor carries on in its state.
    /// </summary>
    protected override bool AroundReceive(Receive receive, object message)
    {
        try
        {
            return base.AroundReceive(receive, message);
        }
        catch (Exception e)
        {
            _log.Error(e, "Upgrade actor failed on {Message}; it carries on", message.GetType().Name);
            return true;
        }
    }

    /// <summary>No upgrade runs: an upgrade may start, or a successor started by hand may ask for the sockets.</summary>
    private void Idle()
    {
        Receive<Predecessor.StartSuccessor>(StartSuccessor);
        Receive<UpgradeSocketActor.PeerArrived>(m => Ask(new Attempt(null, DateTime.UtcNow + _settings.Timeout), m, process: null));
        Always();
    }

    /// <summary>The successor process runs and has not connected yet.</summary>
    private void Starting(Attempt attempt, SuccessorProcess process)
    {
        Receive<UpgradeSocketActor.PeerArrived>(m =>
        {
            if (process.Is(m.ProcessId)) Ask(attempt, m, process);
            else Refuse(m.Peer, $"an upgrade to successor pid {process.ProcessId} is in progress");
        });
        Receive<UpgradeSocketActor.PeerSilent>(m => process.Is(m.ProcessId),
            m => RollBack(attempt, m.ProcessId, $"successor pid {m.ProcessId} connected but sent nothing within {_settings.StepTimeout.TotalSeconds:0.###} s"));
        Receive<SuccessorProcess.Exited>(m => process.Is(m.ProcessId),
            m => RollBack(attempt, m.ProcessId, $"successor pid {m.ProcessId} exited with code {m.ExitCode} before it connected to the upgrade socket"));
        Receive<AttemptTimedOut>(_ => Abandon(attempt, process, NotReadyInTime()));
        Receive<Predecessor.Abort>(m => Abandon(attempt, process, m.Reason));
        Busy($"an upgrade to successor pid {process.ProcessId} is in progress");
    }

    private void StartSuccessor(Predecessor.StartSuccessor start)
    {
        var attempt = new Attempt(start.Requester, DateTime.UtcNow + _settings.Timeout);
        if (_options.StartSuccessor is null)
        {
            Fail(attempt, "no successor command");
            return;
        }
        if (_notServed is { } notServed)
        {
            Fail(attempt, $"the upgrade socket is not served: {notServed}");
            return;
        }
        SuccessorProcess process;
        try
        {
            process = new SuccessorProcess(_options.StartSuccessor(_settings.SocketPath));
        }
        catch (Exception e)
        {
            _log.Error(e, "Upgrade: the successor could not be started: {Error}", e.Message);
            Fail(attempt, $"the successor could not be started: {e.Message}");
            return;
        }
        process.ReportExitTo(Self);
        ArmTimeout(attempt);
        _log.Info("Upgrade: successor pid {Pid} started; it has {Timeout} to adopt the sockets", process.ProcessId, _settings.Timeout);
        _coordinator.Tell(new CoordinatorProtocol.SuccessorStarted(process.ProcessId));
        Become(() => Starting(attempt, process));
    }

    /// <summary>Abandons the attempt before a session runs: the successor that never connected is killed, the upgrade rolls back.</summary>
    private void Abandon(Attempt attempt, SuccessorProcess process, string reason)
    {
        if (process.Kill()) _log.Warning("Upgrade: successor pid {Pid} killed: {Reason}", process.ProcessId, reason);
        RollBack(attempt, process.ProcessId, reason);
    }

    private string NotReadyInTime() => $"the successor was not ready within {_settings.Timeout.TotalSeconds:0.###} s (shard-runtime.upgrade.timeout)";

    /// <summary>
    /// The upgrade ended before any successor served: a successor that still runs (stopped, stuck, or standing down)
    /// may hold copies of the sockets and would keep them in their reuseport groups; it is ended, and gone, before the
    /// rollback counts as done (<c>RollingBack</c>).
    /// </summary>
    private void RollBack(Attempt attempt, int? pid, string reason)
    {
        Timers.Cancel(nameof(AttemptTimedOut));
        // Never this process itself (a peer in the same process, as in the actor-level specs): it would end the node.
        if (pid is not { } successor || successor == Environment.ProcessId || !PeerProcess.IsAlive(successor))
        {
            Fail(attempt, reason);
            return;
        }
        _log.Warning("Upgrade rolled back ({Reason}); ending successor pid {Pid}: SIGTERM, SIGKILL after {Grace}", reason, successor, _settings.RollbackGrace);
        PeerProcess.EndAsync(successor, _settings.RollbackGrace)
            .PipeTo(Self, success: how => new SuccessorEnded(how), failure: e => new SuccessorEnded($"pid {successor} could not be ended: {e.GetBaseException().Message}"));
        Become(() => RollingBack(attempt, reason));
    }

    /// <summary>A rolled-back successor that still ran is being ended.</summary>
    private void RollingBack(Attempt attempt, string reason)
    {
        Receive<SuccessorEnded>(m =>
        {
            _log.Warning("Upgrade rolled back: successor {How}", m.How);
            Fail(attempt, $"{reason}; the successor was ended: {m.How}");
        });
        Busy("an upgrade is rolling back");
    }

    /// <summary>The upgrade rolled back: the node serves on. Who asked and the coordinator hear why.</summary>
    private void Fail(Attempt attempt, string reason)
    {
        Timers.Cancel(nameof(AttemptTimedOut));
        _log.Warning("Upgrade rolled back, node {ProcessId} serves on: {Reason}", Environment.ProcessId, reason);
        _coordinator.Tell(new CoordinatorProtocol.UpgradeFailed($"rolled back: {reason}", SuccessorServed: false));
        attempt.Requester?.Tell(CommandFailedException.Reply(CoordinatorProtocol.Upgrade.Instance,
            $"upgrade rolled back, node {Environment.ProcessId} serves on: {reason}"));
        Become(Idle);
    }

    /// <summary>What every state answers: the socket's news, replies to claims, and what a state does not expect.</summary>
    private void Always()
    {
        Receive<UpgradeSocketActor.Served>(_ => _notServed = null);
        Receive<UpgradeSocketActor.NotServed>(m => _notServed = m.Reason);
        Receive<UpgradeSocketActor.PeerSilent>(_ => { });
        Receive<Predecessor.StartSuccessor>(m => m.Requester.Tell(CommandFailedException.Reply(CoordinatorProtocol.Upgrade.Instance, "an upgrade is in progress")));
        Receive<ControlProtocol.Bound>(m => _log.Info("Upgrade: {Socket} is this node's again", m));
        Receive<Predecessor.Bound>(m => _log.Info("Upgrade: {Socket} is this node's again", m));
        Receive<ControlProtocol.BindFailed>(m => _log.Error("Upgrade: a socket file could not be taken back: {Failure}", m));
        Receive<Predecessor.BindFailed>(m => _log.Error("Upgrade: a socket file could not be taken back: {Failure}", m));
        // Late news of an attempt that ended: its process exited, its timer fired, the node drains, copies closed.
        Receive<SuccessorProcess.Exited>(_ => { });
        Receive<AttemptTimedOut>(_ => { });
        Receive<Predecessor.Abort>(_ => { });
        Receive<Predecessor.CopiesClosed>(_ => { });
        Receive<WatchEnded>(_ => { });
    }

    /// <summary><see cref="Always"/>, with every peer refused for <paramref name="why"/> (one upgrade at a time).</summary>
    private void Busy(string why)
    {
        Receive<UpgradeSocketActor.PeerArrived>(m =>
        {
            _log.Warning("Upgrade peer pid {Peer} refused: {Reason}", m.ProcessId, why);
            Refuse(m.Peer, why);
        });
        Always();
    }

    private void ArmTimeout(Attempt attempt)
    {
        var left = attempt.Deadline - DateTime.UtcNow;
        Timers.StartSingleTimer(nameof(AttemptTimedOut), AttemptTimedOut.Instance, left > TimeSpan.Zero ? left : TimeSpan.Zero);
    }

    private void Refuse(Socket peer, string reason) => UpgradeSocketActor.Refuse(peer, reason, _settings.StepTimeout);

    /// <summary>An upgrade: who asked (null for a successor started by hand) and when it must be done by.</summary>
    private sealed record Attempt(IActorRef? Requester, DateTime Deadline);

    private sealed record SuccessorEnded(string How);

    private sealed class AttemptTimedOut
    {
        public static readonly AttemptTimedOut Instance = new();
        private AttemptTimedOut() { }
    }
}
