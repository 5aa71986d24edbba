using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using ShardRuntime.Actors.Dispatch;
using ShardRuntime.Runtime.Sockets.Readiness;
using Akka.Event;
using ShardRuntime.Actors.Handlers;
using ShardRuntime.Actors.Upgrade;
using ShardRuntime.Actors.Coordination.Reconciliation;
using ShardRuntime.Actors.Listeners;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Upgrade;
using ShardRuntime.Runtime.Loading;
using ShardRuntime.Runtime.Sockets;
using ListenerProtocol = ShardRuntime.Actors.Listeners.Listener;

namespace ShardRuntime.Actors.Coordination;

/// <summary>
/// The one owner of every state change on the node: holds the desired state of each named listener and makes
/// reality match it, binding sockets and starting or retiring shard actors. Changes bind every new socket first and
/// only then retire old ones, so a change that fails (a port held by someone else) changes nothing. Shards it
/// supervises are restarted on the same socket; its registry (<see cref="CoordinatorState"/>) outlives a restart
/// of the coordinator itself.
/// </summary>
internal sealed partial class CoordinatorActor : UntypedActor, IWithTimers, IWithUnboundedStash
{
    public ITimerScheduler Timers { get; set; } = null!;
    public IStash Stash { get; set; } = null!;

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly CoordinatorState _s;
    private readonly IReadOnlyList<ListenerSettings> _initial;
    private readonly HandlerCatalog _handlers;
    private readonly IListenerSocketFactory _socketFactory;

    private readonly Func<IReadOnlyList<ListenerSettings>>? _readListeners;
    private readonly ShardRuntimeSettings _settings;

    public CoordinatorActor(
        CoordinatorState state, ShardRuntimeSettings settings, HandlerCatalog handlers, IListenerSocketFactory socketFactory,
        Func<IReadOnlyList<ListenerSettings>>? readListeners)
    {
        _readListeners = readListeners;
        _settings = settings;
        _s = state;
        _initial = settings.Listeners;
        _handlers = handlers;
        _socketFactory = socketFactory;
    }

    protected override SupervisorStrategy SupervisorStrategy() =>
        // A shard that throws is restarted: its socket and its connections are untouched (see ListenerShardActor).
        new OneForOneStrategy(maxNrOfRetries: 10, withinTimeRange: TimeSpan.FromMinutes(1), _ => Directive.Restart);

    protected override void PreStart()
    {
        switch (_s.Life)
        {
            case NodeLife.Created:
                FirstStart();
                break;
            case NodeLife.Starting:
                // Restarted while the start-up handler code loaded: that load is lost (its result is disposed when it
                // comes); load again and finish the start.
                WatchGroups();
                LoadThen(PreparedHandlers.NeededBy(_initial, _s.Listeners), [], FinishStart);
                break;
            default:
                // Restarted: the groups (restarted along with us, sockets and shards untouched) are watched again, and
                // the node carries on in the phase its registry records.
                WatchGroups();
                Become(Behaviour(_s.Life));
                break;
        }
    }

    private void WatchGroups()
    {
        foreach (var group in _s.Groups.Values) Context.Watch(group);
    }

    private void FirstStart()
    {
        _s.Life = new NodeLife.Starting();
        if (_settings.ActorsOnIoLoops) IoLoopDispatchers.EnsureRegistered(Context.System, _settings.IoLoops);
        if (!DescriptorReserve.TryHold())
            _log.Warning("Could not hold back {Reserve} file descriptors for the process: it is already near its limit (ulimit -n)", DescriptorReserve.Size);
        var migrateReq = TcpMigrateReq();
        _log.Info("Retiring shards: new connections are steered away with a reuseport BPF program, the accept queue is drained until it stays empty, then the socket closes; net.ipv4.tcp_migrate_req = {MigrateReq} ({SafetyNet})",
            migrateReq ?? "unavailable", migrateReq == "1" ? "the kernel also migrates queued connections: a safety net" : "no kernel safety net");
        if (_s.Inherited.Count > 0)
            _log.Info("Process generation {Generation}: {Count} inherited listening sockets from {Source}",
                _s.UpgradeOptions.ProcessGeneration, _s.Inherited.Count, _s.UpgradeOptions.InheritedFrom);
        _s.Configured = _initial;
        _s.FromFile = _initial;
        Context.ActorOf(LoopWatchdogActor.Props(_settings.IoLoopHoldUpWarning), LoopWatchdogActor.ActorName);
        // Handler assemblies load off this thread; WaitUntilStarted is answered once they did and the listeners are bound.
        LoadThen(PreparedHandlers.NeededBy(_initial, _s.Listeners), [], FinishStart);
    }

    /// <summary>The start-up listeners' handlers are loaded (or refused): bind them, settle inherited sockets, serve upgrades.</summary>
    private void FinishStart(PreparedHandlers prepared)
    {
        var draining = _s.Life.IsDraining;
        var failure = draining ? "the node began draining before its listeners were started" : Apply(_initial, prepared);
        // In a cluster, inherited sockets no listener of the file takes may belong to listeners only the cluster defines:
        // they wait for the cluster's desired state (bounded by upgrade.step-timeout), then the rest is declined.
        if (!draining && _s.Inherited.Count > 0 && _settings.Cluster.Enabled && ((ExtendedActorSystem)Context.System).Provider is Akka.Cluster.IClusterActorRefProvider)
        {
            Enter(new NodeLife.AwaitingClusterState([]));
            _log.Info("{Count} inherited sockets wait for the cluster's desired state (at most {Timeout}) before the ones no listener takes are declined",
                _s.Inherited.Count, _settings.Upgrade.StepTimeout);
            Timers.StartSingleTimer(nameof(ClusterStateOverdue), ClusterStateOverdue.Instance, _settings.Upgrade.StepTimeout);
        }
        else
        {
            DeclineInherited();
            if (!draining) Enter(new NodeLife.Serving());
        }
        if (failure is not null)
        {
            _s.StartFailure = failure;
            _log.Error("Start-up failed: {Reason}", failure);
        }
        if (_settings.Upgrade.Enabled && UpgradeActor is null)
            Context.ActorOf(Predecessor.Props(_settings.Upgrade, Self, _s.UpgradeOptions), Predecessor.ActorName);
    }

    private IActorRef? UpgradeActor => Context.Child(Predecessor.ActorName) is var child && !child.IsNobody() ? child : null;

    /// <summary>The cluster's desired state is applied (or overdue): decline what no listener took, answer who asked.</summary>
    private void SettleAdoption(NodeLife.AwaitingClusterState awaiting, NodeLife next)
    {
        Enter(next);
        DeclineInherited();
        var inheritance = new Coordinator.Adoption(_s.Adopted.ToList(), _s.Declined.ToList());
        foreach (var requester in awaiting.AdoptionRequesters) requester.Tell(inheritance);
    }

    /// <summary>Timer: the cluster's desired state did not come in time for the inherited sockets.</summary>
    private sealed class ClusterStateOverdue
    {
        public static readonly ClusterStateOverdue Instance = new();
        private ClusterStateOverdue() { }
    }

    private static string? TcpMigrateReq()
    {
        try
        {
            return File.ReadAllText("/proc/sys/net/ipv4/tcp_migrate_req").Trim();
        }
        catch (IOException)
        {
            return null;
        }
    }

    protected override void PreRestart(Exception reason, object message)
    {
        // Deliberately not base.PreRestart: stopping the shards would close every socket and connection.
        _log.Error(reason, "Coordinator crashed on {Message}; restarting with its registry, sockets and shards", message?.GetType().Name ?? "start-up");
    }

    protected override void PostRestart(Exception reason) => PreStart();

    protected override void PostStop()
    {
        // The node is going away: the groups (children) close the sockets they still hold as they stop.
        foreach (var listener in _s.Listeners.Values.Concat(_s.Retired))
            listener.Handlers.Dispose();
    }

    protected override void OnReceive(object message) => Behaviour(_s.Life)(message);

    /// <summary>The coordinator's behaviour in <paramref name="life"/>.</summary>
    private UntypedReceive Behaviour(NodeLife life) => life switch
    {
        NodeLife.Created or NodeLife.Starting => Starting,
        NodeLife.AwaitingClusterState => AwaitingClusterState,
        NodeLife.Serving => Serving,
        NodeLife.Upgrading => Upgrading,
        _ => Draining,
    };

    /// <summary>
    /// Moves the node to <paramref name="next"/> (recorded in its registry). While a change waits for its handler code
    /// (<see cref="Loading"/>) the behaviour changes once the code is there.
    /// </summary>
    private void Enter(NodeLife next)
    {
        if (next.GetType() != _s.Life.GetType()) _log.Debug("Node: {From} -> {To}", _s.Life.Name, next.Name);
        _s.Life = next;
        if (_waiting is null) Become(Behaviour(next));
    }

    /// <summary>Starting: the start-up listeners' handler code loads (see <see cref="PreStart"/>); changes wait for it.</summary>
    private void Starting(object message) => Serving(message);

    /// <summary>
    /// Serving, inherited sockets waiting for the cluster's desired state before the ones no listener takes are
    /// declined: a successor asking what was adopted waits too (bounded by upgrade.step-timeout).
    /// </summary>
    private void AwaitingClusterState(object message)
    {
        switch (message)
        {
            case Coordinator.GetAdoption when _s.Life is NodeLife.AwaitingClusterState awaiting:
                Enter(awaiting with { AdoptionRequesters = [.. awaiting.AdoptionRequesters, Sender] });
                break;
            case ClusterStateOverdue when _s.Life is NodeLife.AwaitingClusterState awaiting:
                _log.Warning("The cluster's desired state did not arrive within {Timeout}: inherited sockets no listener of the file takes are declined",
                    _settings.Upgrade.StepTimeout);
                SettleAdoption(awaiting, new NodeLife.Serving());
                break;
            default:
                Serving(message);
                break;
        }
    }

    /// <summary>Serving: every change is made (one at a time: one that waits for its handler code holds the others back).</summary>
    private void Serving(object message)
    {
        switch (message)
        {
            case Coordinator.ScaleTo scale:
                Sender.Tell(Scale(scale));
                break;
            case Coordinator.ApplySettings apply:
                ApplySettings(apply);
                break;
            case Coordinator.ApplyClusterState cluster:
                ApplyClusterState(cluster);
                break;
            case Coordinator.Reload reload:
                Reload(reload);
                break;
            default:
                Always(message);
                break;
        }
    }

    /// <summary>Upgrading (passing the sockets to a successor, or watching it): changes are refused until it ended.</summary>
    private void Upgrading(object message) => RefusingChanges(message);

    /// <summary>Draining (shutdown, or the sockets let go to a successor): changes are refused; the node stops once drained.</summary>
    private void Draining(object message) => RefusingChanges(message);

    private void RefusingChanges(object message)
    {
        switch (message)
        {
            case Coordinator.ScaleTo or Coordinator.ApplySettings or Coordinator.ApplyClusterState or Coordinator.Reload:
                Sender.Tell(CommandFailedException.Reply((Coordinator.ICommand)message, Busy() ?? $"the node is {_s.Life.Name}"));
                break;
            default:
                Always(message);
                break;
        }
    }

    /// <summary>What the node answers in every phase: status, start, the upgrade's steps (each checks its own state), drains.</summary>
    private void Always(object message)
    {
        switch (message)
        {
            case Coordinator.WaitUntilStarted cmd:
                Sender.Tell(_s.StartFailure is null ? Coordinator.Started.Instance : CommandFailedException.Reply(cmd, _s.StartFailure));
                break;
            case Coordinator.GetStatus:
                Sender.Tell(Status());
                break;
            case Coordinator.GetAdoption:
                Sender.Tell(new Coordinator.Adoption(_s.Adopted.ToList(), _s.Declined.ToList()));
                break;
            case Coordinator.Drain drain:
                BeginDrain(drain);
                break;
            case Coordinator.PredecessorLetGo:
                OnPredecessorLetGo();
                break;
            case Coordinator.Withdraw:
                Release("the predecessor abandoned the upgrade and serves on; this successor withdraws", [], DrainCause.Withdrew);
                break;
            case HandlersLoaded stale:
                stale.Prepared.Dispose(); // a load this coordinator no longer waits for (it restarted)
                break;
            case ClusterStateOverdue:
                break;
            default:
                if (!OnUpgradeMessage(message) && !OnGroupReport(message)) Unhandled(message);
                break;
        }
    }

    /// <summary>What the groups report about their sockets and shards. False when it is none of that.</summary>
    private bool OnGroupReport(object message)
    {
        switch (message)
        {
            case Group.SocketClosed closed:
                OnSocketClosed(closed.Shard);
                break;
            case Group.ShardStopped stopped:
                OnShardStopped(stopped.Shard);
                break;
            case Terminated terminated:
                OnGroupTerminated(terminated.ActorRef);
                break;
            default:
                return false;
        }
        return true;
    }

    /// <summary>Why no change can be made now (the node drains, or hands over), or null.</summary>
    private string? Busy() => NodeLife.ChangeRefusal(_s.Life);

    /// <summary>How a listener's current handler runs, as status shows it: a span handler on the stream path says so.</summary>
    private static string? StyleOf(ListenerState listener, string? generationStyle) =>
        generationStyle == "span" && (listener.Settings.Io == Settings.ConnectionIo.Stream || listener.Shared.StreamLayer is not null)
            ? "span/stream" : generationStyle;

    /// <summary>The count the node's configuration gives <paramref name="listener"/> when a runtime scale overrides it, or null.</summary>
    private int? ConfiguredShardsOf(ListenerState listener) =>
        !listener.Retired && _s.FromFile.FirstOrDefault(f => f.Name == listener.Name) is { } configured
        && configured.EffectiveShards != listener.Desired && !_s.ClusterOverrides.ContainsKey(listener.Name)
            ? configured.EffectiveShards
            : null;

    private Coordinator.NodeStatus Status() =>
        new(Environment.ProcessId, _s.StartedAt, _s.Life.IsDraining,
            _s.Listeners.Values.Concat(_s.Retired).OrderBy(l => l.Name, StringComparer.Ordinal).ThenBy(l => l.Retired).Select(l =>
            {
                var shards = l.Shards.Values.OrderBy(s => s.Key.ShardId).Select(s => new Coordinator.ShardStatus(
                    s.Key.ShardId,
                    s.Retiring ? "retiring" : s.Parked ? "standby" : l.Settings.IsDatagram ? "receiving" : "accepting",
                    s.Inode,
                    s.Counters.Accepted,
                    s.Counters.Open,
                    s.Counters.BytesReceived,
                    s.Counters.BytesSent,
                    l.Settings.IsDatagram
                        ? new Coordinator.DatagramStatus(s.Counters.DatagramsReceived, s.Counters.DatagramsSent, s.Counters.DroppedTruncated,
                            s.Counters.DroppedRefused, s.Counters.HandlerFailures)
                        : null)).ToList();
                var handlers = l.Handlers.Snapshot();
                return new Coordinator.ListenerStatus(
                    l.Name,
                    (l.BoundEndPoint ?? l.Settings.EndPoint).ToString(),
                    l.Settings.Protocol.ToString().ToLowerInvariant(),
                    handlers.Generations.FirstOrDefault()?.Name ?? l.Settings.Handler,
                    l.Retired ? 0 : l.Desired,
                    l.Settings.MaxConnections,
                    shards.Sum(s => s.Accepted),
                    shards.Sum(s => s.OpenConnections),
                    handlers.CurrentGeneration,
                    handlers.Generations.Select(g => new Coordinator.GenerationStatus(
                        g.Number, g.Name, g.IsCurrent, g.LiveConnections, g.AssemblyPath, g.FileSha256, g.Source)).ToList(),
                    handlers.LastReloadFailure,
                    shards,
                    l.Settings.IsDatagram ? Coordinator.DatagramStatus.Sum(shards.Select(s => s.Datagrams!)) : null,
                    StyleOf(l, handlers.Generations.FirstOrDefault()?.Style),
                    l.Settings.IsDatagram ? 0 : l.Shards.Values.Sum(s => s.Counters.HandlerFailures),
                    l.Shared.Tls is { Current: var tls } server
                        ? new Coordinator.TlsStatus(tls.Options.Certificate, tls.Certificate.Subject, tls.Certificate.NotAfter.ToUniversalTime(),
                            tls.LoadedAt, server.Counters.Snapshot())
                        : null,
                    ConfiguredShardsOf(l));
            }).ToList(),
            _s.UpgradeOptions.ProcessGeneration,
            _s.Life is NodeLife.Upgrading { Progress: var upgrade } ? new Coordinator.UpgradeStatus(upgrade.SuccessorProcessId, upgrade.Describe(), upgrade.Since) : null,
            _s.LastUpgradeFailure,
            _s.Life.LetGo,
            _s.Transport.Description,
            _s.Transport.IsInsecure);
}

/// <summary>Why the node's actor system stops after a process upgrade: a successor serves its sockets.</summary>
internal sealed class SuccessorServesReason : CoordinatedShutdown.Reason
{
    public static readonly SuccessorServesReason Instance = new();
    private SuccessorServesReason() { }

    /// <inheritdoc />
    public override int ExitCode => 0;
}
