using ShardRuntime.Actors.Coordination;
using ShardRuntime.Actors.Hosting;
using Akka.Actor;
using Akka.Event;
using Akka.Hosting;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Systemd;
using ShardRuntime.Runtime.Upgrade;
using ControlProtocol = ShardRuntime.Actors.ControlSocket.Control;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Upgrade;

/// <summary>
/// The successor's part of an upgrade after the sockets arrived (<see cref="Successor"/>), as states: Settling (the
/// coordinator says what it adopted and declined; bounded by upgrade.timeout) -> AwaitingAnswer (Ready sent; the
/// connection bounds the answer by step-timeout) -> Claiming (the control and upgrade socket paths, a step-timeout
/// each) -> AwaitingLetGo (the predecessor's hold plus let-go-margin) -> Done. A failure before Ready closes the
/// connection (the predecessor rolls back); the predecessor abandoning after Ready makes the node withdraw. Every wait
/// ends by a configured deadline, so <see cref="Successor.WaitUntilServing"/> is always answered.
/// </summary>
internal sealed class SuccessorActor : ReceiveActor, IWithTimers
{
    private readonly UpgradeSettings _settings;
    private readonly UpgradeClient _connection;
    private readonly IActorRef _coordinator;
    private readonly bool _claimControlSocket;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly List<IActorRef> _waiting = [];
    private object? _answer;

    public SuccessorActor(UpgradeSettings settings, UpgradeClient connection, IActorRef coordinator, bool claimControlSocket)
    {
        _settings = settings;
        _connection = connection;
        _coordinator = coordinator;
        _claimControlSocket = claimControlSocket;
        Settling();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart()
    {
        _coordinator.Tell(CoordinatorProtocol.GetAdoption.Instance);
        Timers.StartSingleTimer(nameof(SettleTimedOut), SettleTimedOut.Instance, _settings.Timeout);
    }

    protected override void PostStop() => _connection.Dispose();

    private void Settling()
    {
        Common();
        Receive<CoordinatorProtocol.Adoption>(settled =>
        {
            Timers.Cancel(nameof(SettleTimedOut));
            _connection.SendReadyAsync(settled.Declined).PipeTo(Self,
                success: answer => new ReadyAnswered(answer, settled),
                failure: e => new ReadyFailed(e.GetBaseException()));
            Become(AwaitingAnswer);
        });
        Receive<Status.Failure>(refused =>
            GiveUpBeforeReady($"the coordinator refused to say which sockets it adopted: {CommandFailedException.In(refused)?.Reason ?? refused.Cause.Message}"));
        Receive<SettleTimedOut>(_ => GiveUpBeforeReady(
            $"the node did not settle the sockets it adopted within {_settings.Timeout.TotalSeconds:0.###} s (shard-runtime.upgrade.timeout)"));
    }

    private void AwaitingAnswer()
    {
        Common();
        Receive<ReadyAnswered>(m =>
        {
            if (m.Answer == ReadyAnswer.Released)
                _log.Info("Adopted {Adopted} listening sockets ({Declined} declined); the predecessor stops accepting and drains",
                    m.Settled.Adopted.Count, m.Settled.Declined.Count);
            else
                _log.Warning("The predecessor went away without answering Ready; this node serves the sockets alone now");
            WaitForLetGo(m.Answer);
            ClaimSocketPaths(m);
            Become(Claiming);
        });
        Receive<ReadyFailed>(m =>
        {
            // The predecessor did not commit and still runs (it gave up, e.g. after its timeout): it serves on.
            _log.Error("Upgrade abandoned by the predecessor, which serves on: {Reason}; this node withdraws", m.Cause.Message);
            _coordinator.Tell(CoordinatorProtocol.Withdraw.Instance);
            _connection.Dispose();
            Finish(new Successor.Failed(m.Cause.Message, Withdrawn: true));
        });
    }

    private void Claiming()
    {
        Common();
        Receive<Claimed>(m =>
        {
            foreach (var (socket, reason) in m.Outcomes)
            {
                if (reason is null) _log.Info("The {Socket} socket is this node's now", socket);
                else _log.Error("The {Socket} socket was not claimed; this node serves on without it: {Reason}", socket, reason);
            }
            Notify($"MAINPID={Environment.ProcessId}\nREADY=1\nSTATUS=adopted the sockets of its predecessor");
            var unclaimed = m.Outcomes.Where(o => o.Reason is not null).Select(o => $"{o.Socket} socket: {o.Reason}").ToList();
            Finish(new Successor.Serving(m.Answered.Settled.Adopted.Count, m.Answered.Settled.Declined.Count,
                m.Answered.Answer == ReadyAnswer.PredecessorGone, unclaimed));
        });
    }

    /// <summary>Answers <see cref="Successor.WaitUntilServing"/> and hears when the predecessor let go, in every state.</summary>
    private void Common()
    {
        Receive<Successor.WaitUntilServing>(_ =>
        {
            if (_answer is not null) Sender.Tell(_answer);
            else _waiting.Add(Sender);
        });
        Receive<LetGo>(m =>
        {
            if (!m.InTime)
                _log.Warning("The predecessor did not let go of the listening sockets within {Hold} and {Margin} (shard-runtime.upgrade.let-go-margin); completing the upgrade anyway",
                    _connection.PredecessorHold, _settings.LetGoMargin);
            else
                _log.Info("The predecessor let go of the listening sockets: this node steers and retires them from now on");
            _connection.Dispose();
            _coordinator.Tell(CoordinatorProtocol.PredecessorLetGo.Instance);
        });
    }

    private void GiveUpBeforeReady(string reason)
    {
        _log.Error("Upgrade failed before Ready, the predecessor keeps its sockets: {Reason}", reason);
        _connection.Dispose(); // before Ready: the predecessor rolls back and serves on
        Finish(new Successor.Failed(reason, Withdrawn: false));
    }

    private void Finish(object answer)
    {
        _answer = answer;
        foreach (var waiting in _waiting) waiting.Tell(answer);
        _waiting.Clear();
        Become(Done);
    }

    private void Done() => Common();

    /// <summary>
    /// The predecessor closes the upgrade connection once it closed its copies of the sockets (after its stability
    /// period); until then the sockets are in their reuseport groups whatever this node closes, so it neither steers
    /// nor retires them. One that let go at once (no hold) or is gone needs no wait.
    /// </summary>
    private void WaitForLetGo(ReadyAnswer answer)
    {
        if (answer != ReadyAnswer.Released || _connection.PredecessorHold <= TimeSpan.Zero)
        {
            Self.Tell(new LetGo(true));
            return;
        }
        _log.Info("The predecessor keeps its copies of the listening sockets for up to {Hold} while it watches this node; adopted sockets retire once it let go",
            _connection.PredecessorHold);
        _connection.WaitForLetGoAsync(_settings.LetGoMargin)
            .PipeTo(Self, success: inTime => new LetGo(inTime), failure: _ => new LetGo(true)); // broken: the predecessor is gone
    }

    /// <summary>The upgrade and control socket paths become this node's: its files replace the predecessor's.</summary>
    private void ClaimSocketPaths(ReadyAnswered answered)
    {
        var system = Context.System;
        var step = _settings.StepTimeout;
        var claims = new List<Task<(string, string?)>>();
        if (_settings.Enabled)
            claims.Add(ClaimAsync<Predecessor.Marker>(system, "upgrade", Predecessor.Claim.Instance, step,
                reply => (reply as Predecessor.BindFailed)?.Reason));
        if (_claimControlSocket)
            claims.Add(ClaimAsync<ControlProtocol.Marker>(system, "control", ControlProtocol.Claim.Instance, step,
                reply => (reply as ControlProtocol.BindFailed)?.Reason));
        Task.WhenAll(claims).PipeTo(Self, success: outcomes => new Claimed(answered, outcomes),
            failure: e => new Claimed(answered, [("control and upgrade", e.GetBaseException().Message)]));
    }

    /// <summary>Finds the server registered under <typeparamref name="TMarker"/> and claims its path, each within <paramref name="step"/>.</summary>
    private static async Task<(string Socket, string? Reason)> ClaimAsync<TMarker>(
        ActorSystem system, string socket, object claim, TimeSpan step, Func<object, string?> refusal)
    {
        try
        {
            using var lookUp = new CancellationTokenSource(step);
            var server = await ActorRegistry.For(system).WaitForAsync<TMarker>(lookUp.Token).ConfigureAwait(false);
            return (socket, refusal(await server.Ask<object>(claim, step).ConfigureAwait(false)));
        }
        catch (Exception e) when (e is AskTimeoutException or OperationCanceledException)
        {
            return (socket, $"no answer within {step.TotalSeconds:0.###} s (shard-runtime.upgrade.step-timeout)");
        }
    }

    private void Notify(string state)
    {
        if (SystemdNotify.TryNotify(state) is { } error)
            _log.Warning("Could not notify systemd ({State}): {Error}", state.Split('\n')[0], error);
    }

    /// <summary>Sender: the settle timer (upgrade.timeout). The coordinator did not say what it adopted in time.</summary>
    private sealed class SettleTimedOut
    {
        public static readonly SettleTimedOut Instance = new();
        private SettleTimedOut() { }
    }

    /// <summary>Sender: Ready (piped to self). The predecessor answered <paramref name="Answer"/>.</summary>
    private sealed record ReadyAnswered(ReadyAnswer Answer, CoordinatorProtocol.Adoption Settled);

    /// <summary>Sender: Ready (piped to self). The predecessor did not commit and serves on.</summary>
    private sealed record ReadyFailed(Exception Cause);

    /// <summary>Sender: the claims (piped to self). Each socket path with why it was not claimed (null: claimed).</summary>
    private sealed record Claimed(ReadyAnswered Answered, IReadOnlyList<(string Socket, string? Reason)> Outcomes);

    /// <summary>Sender: the wait for the predecessor to let go (piped to self, or self at once). <paramref name="InTime"/>: before the deadline.</summary>
    private sealed record LetGo(bool InTime);
}
