using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using ShardRuntime.Actors.Dispatch;
using ShardRuntime.Runtime.Sockets.Readiness;
using Akka.Event;
using ShardRuntime.Actors.Handlers;
using ShardRuntime.Actors.Upgrade;
using ShardRuntime.Actors.Coordinator.Reconciliation;
using ShardRuntime.Actors.Listener;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Upgrade;
using ShardRuntime.Runtime.Loading;
using ShardRuntime.Runtime.Sockets;
using ListenerProtocol = ShardRuntime.Actors.Listener.Listener;

namespace ShardRuntime.Actors.Coordinator;

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
        if (_s.Started)
        {
            // Restarted: the groups (restarted along with us, sockets and shards untouched) are watched again.
            foreach (var group in _s.Groups.Values) Context.Watch(group);
            return;
        }
        _s.Started = true;
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
        Context.ActorOf(LoopWatchdogActor.Props(_settings.IoLoopHoldUpWarning), LoopWatchdogActor.ActorName);
        // Handler assemblies load off this thread; WaitUntilStarted is answered once they did and the listeners are bound.
        LoadThen(PreparedHandlers.NeededBy(_initial, _s.Listeners), [], FinishStart);
    }

    /// <summary>The start-up listeners' handlers are loaded (or refused): bind them, settle inherited sockets, serve upgrades.</summary>
    private void FinishStart(PreparedHandlers prepared)
    {
        var failure = _s.Draining ? "the node began draining before its listeners were started" : Apply(_initial, prepared);
        // In a cluster, inherited sockets no listener of the file takes may belong to listeners only the cluster defines:
        // they wait for the cluster's desired state (bounded by upgrade.step-timeout), then the rest is declined.
        if (_s.Inherited.Count > 0 && _settings.Cluster.Enabled && ((ExtendedActorSystem)Context.System).Provider is Akka.Cluster.IClusterActorRefProvider)
        {
            _s.AwaitingClusterState = true;
            _log.Info("{Count} inherited sockets wait for the cluster's desired state (at most {Timeout}) before the ones no listener takes are declined",
                _s.Inherited.Count, _settings.Upgrade.StepTimeout);
            Timers.StartSingleTimer(nameof(ClusterStateOverdue), ClusterStateOverdue.Instance, _settings.Upgrade.StepTimeout);
        }
        else
        {
            DeclineInherited();
        }
        if (failure is not null)
        {
            _s.StartFailure = failure;
            _log.Error("Start-up failed: {Reason}", failure);
        }
        if (_settings.Upgrade.Enabled)
            Context.ActorOf(Predecessor.Props(_settings.Upgrade, Self, _s.UpgradeOptions), Predecessor.ActorName);
    }

    private IActorRef? UpgradeActor => Context.Child(Predecessor.ActorName) is var child && !child.IsNobody() ? child : null;

    /// <summary>The cluster's desired state is applied (or overdue): decline what no listener took, answer who asked.</summary>
    private void SettleAdoption()
    {
        _s.AwaitingClusterState = false;
        DeclineInherited();
        var inheritance = new Coordinator.Adoption(_s.Adopted.ToList(), _s.Declined.ToList());
        foreach (var requester in _s.AdoptionRequesters) requester.Tell(inheritance);
        _s.AdoptionRequesters.Clear();
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

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Coordinator.WaitUntilStarted cmd:
                Sender.Tell(_s.StartFailure is null ? Coordinator.Started.Instance : new Coordinator.CommandFailed(cmd, _s.StartFailure));
                break;
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
            case HandlersLoaded stale:
                stale.Prepared.Dispose(); // a load this coordinator no longer waits for (it restarted)
                break;
            case Coordinator.GetStatus:
                Sender.Tell(Status());
                break;
            case Coordinator.Drain drain:
                BeginDrain(drain);
                break;
            case Coordinator.Upgrade upgrade:
                StartUpgrade(upgrade);
                break;
            case Coordinator.PassSockets begin:
                PassSockets(begin);
                break;
            case Coordinator.SuccessorStarted started when _s.Upgrade is { } running:
                running.SuccessorProcessId = started.ProcessId;
                running.Phase = "waiting for the successor to connect";
                break;
            case Coordinator.UpgradeFinished finished:
                OnUpgradeFinished(finished);
                break;
            case Coordinator.SuccessorStable stable when Watched(stable.ProcessId) is { } upgrade:
                _s.Upgrade = null;
                LetGo(upgrade, stable.ProcessId);
                break;
            case Coordinator.SuccessorDied died when Watched(died.ProcessId) is { } upgrade:
                _s.Upgrade = null;
                ResumeAccepting(upgrade, died);
                break;
            case Coordinator.SuccessorStable or Coordinator.SuccessorDied:
                break;
            case Coordinator.ForeignHoldersChecked { Finding: { } finding }:
                _log.Error("Upgrade: another process still holds this node's listening sockets: {Finding}", finding);
                _s.LastUpgradeFailure = $"{_s.LastUpgradeFailure}; {finding}";
                break;
            case Coordinator.ForeignHoldersChecked:
                _log.Info("Upgrade: no other process holds this node's listening sockets");
                break;
            case Control.Control.Bound or Predecessor.Bound:
                _log.Info("Upgrade: {Socket} is this node's again", message);
                break;
            case Control.Control.BindFailed or Predecessor.BindFailed:
                _log.Error("Upgrade: a socket file could not be taken back: {Failure}", message);
                break;
            case Coordinator.GetAdoption when _s.AwaitingClusterState:
                _s.AdoptionRequesters.Add(Sender);
                break;
            case Coordinator.GetAdoption:
                Sender.Tell(new Coordinator.Adoption(_s.Adopted.ToList(), _s.Declined.ToList()));
                break;
            case ClusterStateOverdue when _s.AwaitingClusterState:
                _log.Warning("The cluster's desired state did not arrive within {Timeout}: inherited sockets no listener of the file takes are declined",
                    _settings.Upgrade.StepTimeout);
                SettleAdoption();
                break;
            case ClusterStateOverdue:
                break;
            case Coordinator.PredecessorLetGo:
                OnPredecessorLetGo();
                break;
            case Coordinator.Withdraw:
                Release("the predecessor abandoned the upgrade and serves on; this successor withdraws", []);
                break;
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
                Unhandled(message);
                break;
        }
    }

    /// <summary>Piped to self: the handler code a change waits for is loaded (or refused, or missed its deadline).</summary>
    private sealed record HandlersLoaded(int Id, PreparedHandlers Prepared);

    /// <summary>The change waiting for its handler code: its load's id, and what it does once loaded.</summary>
    private (int Id, Action<PreparedHandlers> Then)? _waiting;
    private int _lastLoadId;

    /// <summary>
    /// Loads the handler code a change needs (first generations for <paramref name="registries"/>, next generations for
    /// <paramref name="reloads"/>) on a thread of its own, within handler-load-timeout, and then runs
    /// <paramref name="then"/> here with it. Meanwhile (<see cref="Loading"/>) status, scale, drains and shard traffic are
    /// handled; other changes wait for this one. What <paramref name="then"/> does not take is unloaded after it.
    /// </summary>
    private void LoadThen(IReadOnlyList<ListenerSettings> registries, IReadOnlyList<ListenerState> reloads, Action<PreparedHandlers> then)
    {
        if (registries.Count == 0 && reloads.Count == 0)
        {
            using var none = PreparedHandlers.None;
            then(none);
            return;
        }
        var id = ++_lastLoadId;
        var specs = registries.Select(r => (r, PreparedHandlers.SpecOf(r, _settings.HandlerDirectories))).ToList();
        var reloading = reloads.ToList();
        OffThread.Run($"handler-load-{id}", () => PreparedHandlers.Load(specs, reloading), _settings.HandlerLoadTimeout, late => late.Dispose())
            .PipeTo(Self,
                success: prepared => new HandlersLoaded(id, prepared),
                failure: e => new HandlersLoaded(id, PreparedHandlers.Failed(registries, reloading, $"loading the handler code failed: {e.GetBaseException().Message}")));
        _waiting = (id, then);
        Become(Loading);
    }

    /// <summary>Behaviour while a change waits for its handler code (see <see cref="LoadThen"/>).</summary>
    private void Loading(object message)
    {
        switch (message)
        {
            case HandlersLoaded loaded when _waiting is { } waiting && loaded.Id == waiting.Id:
                _waiting = null;
                Become(OnReceive);
                try
                {
                    waiting.Then(loaded.Prepared); // may wait for more code (Become Loading again)
                }
                finally
                {
                    loaded.Prepared.Dispose();
                }
                Stash.UnstashAll();
                break;
            // Changes wait (at most handler-load-timeout) for the one being loaded: they start from its outcome.
            case Coordinator.ApplySettings or Coordinator.ApplyClusterState or Coordinator.Reload or Coordinator.Upgrade
                or Coordinator.PassSockets or Coordinator.WaitUntilStarted or Coordinator.GetAdoption or Coordinator.PredecessorLetGo:
                Stash.Stash();
                break;
            default:
                OnReceive(message);
                break;
        }
    }

    /// <summary>Why no change can be made now (the node drains, or hands over), or null.</summary>
    private string? Busy()
    {
        if (_s.LetGo) return "the node let go of its listening sockets to a successor and is draining";
        if (_s.Draining) return "the node is draining for shutdown";
        if (_s.Upgrade is { } upgrade)
            return $"an upgrade is in progress ({upgrade.Phase}{(upgrade.SuccessorProcessId is { } pid ? $", successor pid {pid}" : "")}, since {upgrade.Since:HH:mm:ss})";
        return null;
    }

    private object Scale(Coordinator.ScaleTo scale)
    {
        if (Busy() is { } busy)
            return new Coordinator.CommandFailed(scale, busy);
        using var none = PreparedHandlers.None;
        var failure = Reconciler.Scale(Observe(), scale.Listener, scale.Shards, _s.ClusterOverrides) switch
        {
            Decision.Refused refused => refused.Reason,
            Decision.Planned planned => Execute(planned.Plan, none),
            _ => throw new InvalidOperationException("unknown decision"),
        };
        if (failure is not null) return new Coordinator.CommandFailed(scale, failure);
        // The node's own desired state changes with it, so that later cluster changes to other listeners keep it.
        _s.Configured = _s.Configured.Select(l => l.Name == scale.Listener ? l with { Shards = scale.Shards } : l).ToList();
        var listener = _s.Listeners[scale.Listener];
        _log.Info("Listener {Listener} scaled to {Shards} shards", listener.Name, scale.Shards);
        return new Coordinator.ScaledTo(listener.Name, listener.ActiveCount, listener.Shards.Values.Count(s => s.Retiring));
    }

    private void ApplySettings(Coordinator.ApplySettings apply)
    {
        var requester = Sender;
        if (Busy() is { } busy)
        {
            requester.Tell(new Coordinator.CommandFailed(apply, busy));
            return;
        }
        LoadThen(PreparedHandlers.NeededBy(Reconciler.Effective(apply.Listeners, _s.ClusterOverrides), _s.Listeners), [], prepared =>
        {
            var failure = Busy() ?? ApplyConfigured(apply.Listeners, prepared);
            requester.Tell(failure is null ? Coordinator.SettingsApplied.Instance : new Coordinator.CommandFailed(apply, failure));
        });
    }

    private void Reload(Coordinator.Reload reload)
    {
        var requester = Sender;
        if (Busy() is { } busy)
        {
            requester.Tell(new Coordinator.CommandFailed(reload, busy));
            return;
        }
        if (reload.Listener is not null)
        {
            if (!_s.Listeners.TryGetValue(reload.Listener, out var one))
            {
                requester.Tell(new Coordinator.CommandFailed(reload,
                    $"no listener named '{reload.Listener}' (listeners: {string.Join(", ", _s.Listeners.Keys.Order(StringComparer.Ordinal))})"));
                return;
            }
            LoadThen([], [one], prepared => requester.Tell(FinishReload(reload, null, prepared)));
            return;
        }
        IReadOnlyList<ListenerSettings>? desired = null;
        if (_readListeners is not null)
        {
            try
            {
                desired = _readListeners();
            }
            catch (Exception e)
            {
                _log.Warning("Reload refused: the listeners could not be read again: {Reason}", e.Message);
                requester.Tell(new Coordinator.CommandFailed(reload, $"configuration not reloaded, nothing changed: {e.Message}", InvalidConfiguration: true));
                return;
            }
            if (EmptyReloadRefusal(desired, reload.AllowEmpty) is { } empty)
            {
                _log.Warning("Reload refused: {Reason}", empty);
                requester.Tell(new Coordinator.CommandFailed(reload, empty));
                return;
            }
        }
        // Listeners the configuration creates (or replaces) get their first generation; the others reload theirs.
        var effective = desired is null ? null : Reconciler.Effective(desired, _s.ClusterOverrides);
        var kept = _s.Listeners.Values
            .Where(l => effective is null || effective.Any(s => s.Name == l.Name && s with { Shards = l.Settings.Shards } == l.Settings))
            .OrderBy(l => l.Name, StringComparer.Ordinal).ToList();
        LoadThen(effective is null ? [] : PreparedHandlers.NeededBy(effective, _s.Listeners), kept,
            prepared => requester.Tell(FinishReload(reload, desired, prepared)));
    }

    /// <summary>
    /// Why a reload whose configuration declares no listener at all must not close every listener the node serves, or
    /// null (it declares some, the node serves none, or the operator asked for it).
    /// </summary>
    private string? EmptyReloadRefusal(IReadOnlyList<ListenerSettings> desired, bool allowEmpty)
    {
        if (allowEmpty || desired.Count > 0 || Reconciler.Effective(desired, _s.ClusterOverrides).Count > 0 || _s.Listeners.Count == 0) return null;
        var names = string.Join(", ", _s.Listeners.Keys.Order(StringComparer.Ordinal));
        return $"configuration not applied, nothing changed: it declares no listener, so the reload would close every listener this node serves ({names}); " +
               "if that is what you want, run `shardruntime reload --allow-empty`";
    }

    /// <summary>The reload's handler code is loaded: applies <paramref name="desired"/> (when the file was read), switches generations, says what changed.</summary>
    private object FinishReload(Coordinator.Reload reload, IReadOnlyList<ListenerSettings>? desired, PreparedHandlers prepared)
    {
        if (Busy() is { } busy)
            return new Coordinator.CommandFailed(reload, busy);
        var before = _s.Listeners.Values.ToList();
        var beforeSettings = SettingsNow(before);
        if (desired is not null && ApplyConfigured(desired, prepared) is { } failure)
            return new Coordinator.CommandFailed(reload, $"configuration not applied, nothing changed: {failure}");
        // Listeners the configuration just created (or replaced) start at generation 1; the others reload.
        var listeners = reload.Listener is null
            ? _s.Listeners.Values.Where(before.Contains).OrderBy(l => l.Name, StringComparer.Ordinal).ToList()
            : before.Where(l => l.Name == reload.Listener).ToList();
        var (reloaded, refused) = ReloadHandlers(listeners, prepared);
        if (reload.ClusterGeneration is { } clusterGeneration)
        {
            foreach (var listener in reloaded) _s.ClusterGenerations[listener.Listener] = clusterGeneration;
        }
        var changes = ReloadChanges.Describe(beforeSettings, SettingsNow(_s.Listeners.Values));
        if (refused.Count == 0) return new Coordinator.Reloaded(reloaded, changes);
        var done = changes.Count == 0 ? "" : $"; changed: {string.Join("; ", changes)}";
        return new Coordinator.CommandFailed(reload, string.Join("; ", refused) + done);
    }

    /// <summary>Each listener's settings as it runs now: a scale or a change of only the shard count leaves its settings object as it was.</summary>
    private static Dictionary<string, ListenerSettings> SettingsNow(IEnumerable<ListenerState> listeners) =>
        listeners.ToDictionary(l => l.Name, l => l.Settings with { Shards = l.Desired }, StringComparer.Ordinal);

    /// <summary>Switches each listener to its next generation from <paramref name="prepared"/>: the generations now serving, and why each refusal happened.</summary>
    private (List<Coordinator.ListenerGeneration> Reloaded, List<string> Refused) ReloadHandlers(IEnumerable<ListenerState> listeners, PreparedHandlers prepared)
    {
        var reloaded = new List<Coordinator.ListenerGeneration>();
        var refused = new List<string>();
        foreach (var listener in listeners)
        {
            var (next, failure) = prepared.TakeGeneration(listener);
            HandlerGeneration generation;
            try
            {
                if (next is null) throw new InvalidOperationException(failure);
                generation = listener.Handlers.SwitchTo(next);
            }
            catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
            {
                listener.Handlers.RecordReloadFailure(e.Message);
                _log.Warning("Listener {Listener} refused the reload: {Reason}; generation {Generation} keeps serving",
                    listener.Name, e.Message, listener.Handlers.Current.Number);
                refused.Add($"listener '{listener.Name}': {e.Message} (generation {listener.Handlers.Current.Number} keeps serving)");
                continue;
            }
            listener.LoadedAt = DateTimeOffset.UtcNow;
            reloaded.Add(new Coordinator.ListenerGeneration(listener.Name, generation.Number));
            // Connections of older generations get the listener's drain timeout, then close.
            var changed = new ListenerProtocol.GenerationChanged(generation.Number, listener.Settings.DrainTimeout);
            foreach (var byGroup in listener.Shards.Values.GroupBy(s => s.Group))
                byGroup.Key.Tell(new Group.GenerationChanged(byGroup.Select(s => s.Key).ToList(), changed));
            _log.Info("Listener {Listener} reloaded its handler {Handler}: generation {Generation} serves new connections",
                listener.Name, generation.Name, generation.Number);
        }
        return (reloaded, refused);
    }

    /// <summary>The node's own listeners become <paramref name="configured"/>; applies them with the cluster's overrides over them (all or nothing).</summary>
    private string? ApplyConfigured(IReadOnlyList<ListenerSettings> configured, PreparedHandlers prepared)
    {
        var previous = _s.Configured;
        _s.Configured = configured;
        var failure = Apply(Reconciler.Effective(configured, _s.ClusterOverrides), prepared);
        if (failure is not null) _s.Configured = previous;
        return failure;
    }

    /// <summary>
    /// Follows the cluster's desired state: applies the configured listeners with <paramref name="cluster"/>'s overrides
    /// over them (all or nothing), then reloads every listener whose cluster handler generation rose. A listener seen for
    /// the first time takes the cluster's generation as it is: it runs the newest code already. Handler code of both
    /// steps is loaded off this thread first (<see cref="LoadThen"/>).
    /// </summary>
    private void ApplyClusterState(Coordinator.ApplyClusterState cluster)
    {
        var requester = Sender;
        if (Busy() is { } busy)
        {
            requester.Tell(new Coordinator.CommandFailed(cluster, busy));
            return;
        }
        var overrides = cluster.Overrides.ToDictionary(o => o.Listener, StringComparer.Ordinal);
        // What the whole state needs, and what the state accepted so far needs (a listener that falls back to it).
        var needed = PreparedHandlers.NeededBy(
            Reconciler.Effective(_s.Configured, overrides).Concat(Reconciler.Effective(_s.Configured, _s.ClusterOverrides)), _s.Listeners);
        LoadThen(needed, [], prepared => FollowClusterState(requester, cluster, overrides, prepared));
    }

    private void FollowClusterState(
        IActorRef requester, Coordinator.ApplyClusterState cluster, Dictionary<string, Coordinator.ClusterOverride> overrides, PreparedHandlers prepared)
    {
        if (Busy() is { } busy)
        {
            requester.Tell(new Coordinator.CommandFailed(cluster, busy));
            return;
        }
        var problems = new List<string>();
        if (Apply(Reconciler.Effective(_s.Configured, overrides), prepared) is not null)
        {
            // One listener's trouble (a port taken on this node, an unknown handler) must not hold the others back:
            // the changes are tried one listener at a time; each that fails changes nothing and is reported.
            IReadOnlyDictionary<string, Coordinator.ClusterOverride> accepted = _s.ClusterOverrides;
            foreach (var name in Reconciler.ChangedOverrides(accepted, overrides))
            {
                var trial = Reconciler.Trial(accepted, overrides, name);
                if (Apply(Reconciler.Effective(_s.Configured, trial), prepared) is { } failure) problems.Add(failure);
                else accepted = trial;
            }
            overrides = new Dictionary<string, Coordinator.ClusterOverride>(accepted, StringComparer.Ordinal);
        }
        _s.ClusterOverrides = overrides;
        if (_s.AwaitingClusterState) SettleAdoption();
        var (reloads, followed) = Reconciler.ClusterReloads(overrides.Values, Observe(), _s.ClusterGenerations);
        // A refused reload is not tried again for the same generation: the listener's running generation serves on
        // (ReloadHandlers logs why; the listener's status shows it as its last reload failure).
        _s.ClusterGenerations = followed;
        var rose = reloads.Select(r => ListenerOf(r.Listener)).ToList();
        foreach (var reload in reloads)
            _log.Info("Listener {Listener}: the cluster's handler generation rose to {ClusterGeneration}; reloading", reload.Listener.Name, reload.ClusterGeneration);
        LoadThen([], rose, next =>
        {
            ReloadHandlers(rose.Where(l => !l.Retired), next);
            requester.Tell(new Coordinator.ClusterStateApplied(problems));
        });
    }

    /// <summary>Why passing the sockets cannot start now, or null.</summary>
    private string? UpgradeRefusal()
    {
        if (Busy() is { } busy) return busy;
        if (_s.StartFailure is not null) return $"the node did not start: {_s.StartFailure}";
        // A retiring socket still drains its queue; the successor would have to steer it without knowing it drains.
        var draining = _s.Listeners.Values.Concat(_s.Retired)
            .SelectMany(l => l.Shards.Values.Where(s => s.Retiring && !s.SocketClosed).Select(s => s.Key.ToString()))
            .ToList();
        if (draining.Count > 0)
            return $"shard(s) {string.Join(", ", draining)} still drain their accept queues; try again once they closed (retire-queue-timeout at most)";
        return null;
    }

    private void StartUpgrade(Coordinator.Upgrade upgrade)
    {
        var refusal = UpgradeRefusal();
        if (refusal is null && UpgradeActor is null)
            refusal = "upgrades are off on this node (shard-runtime.upgrade.enabled = off)";
        if (refusal is null && _s.UpgradeOptions.StartSuccessor is null)
            refusal = "this node cannot start a successor (it was not started by the shardruntime host); start one with `run --upgrade-from`";
        if (refusal is not null)
        {
            _log.Warning("Upgrade refused: {Reason}", refusal);
            _s.LastUpgradeFailure = $"refused: {refusal}";
            Sender.Tell(new Coordinator.CommandFailed(upgrade, refusal));
            return;
        }
        _s.Upgrade = new UpgradeInProgress(Sender);
        _log.Info("Upgrade: starting a successor process to take over the listening sockets");
        UpgradeActor!.Tell(Predecessor.StartSuccessor.Instance);
    }

    private void PassSockets(Coordinator.PassSockets begin)
    {
        string? refusal;
        if (_s.Draining || _s.Upgrade is null)
            refusal = UpgradeRefusal();
        else if (_s.Upgrade.Phase == UpgradeInProgress.PassingSockets)
            refusal = $"an upgrade is in progress (passing sockets to successor pid {_s.Upgrade.SuccessorProcessId})";
        else if (_s.Upgrade.SuccessorProcessId is not { } expected)
            refusal = "an upgrade is starting its own successor";
        else if (expected != begin.PeerProcessId)
            refusal = $"an upgrade to successor pid {expected} is in progress";
        else
            refusal = null; // the successor this node started
        if (refusal is not null)
        {
            _log.Warning("Passing the sockets to pid {Peer} refused: {Reason}", begin.PeerProcessId, refusal);
            Sender.Tell(new Coordinator.CommandFailed(begin, refusal));
            return;
        }

        var upgrade = _s.Upgrade ??= new UpgradeInProgress(null);
        upgrade.SuccessorProcessId = begin.PeerProcessId;
        upgrade.Phase = UpgradeInProgress.PassingSockets;
        // The groups own the sockets and know their positions: each lists its accepting members.
        var passing = _s.Listeners.Values.SelectMany(l => l.Shards.Values.Where(s => !s.Retiring).Select(s => (Listener: l, Shard: s)))
            .ToDictionary(e => e.Shard.Key);
        var generation = _s.UpgradeOptions.ProcessGeneration;
        var asks = passing.Values.Select(e => e.Shard.Group).Distinct()
            .Select(g => g.Ask<Group.Sockets>(Group.GetSockets.Instance, _settings.Upgrade.StepTimeout)).ToList();
        Task.WhenAll(asks).PipeTo(Sender,
            success: groups =>
            {
                var sockets = groups.SelectMany(g => g.Members).Where(m => passing.ContainsKey(m.Key))
                    .OrderBy(m => m.Key.Listener, StringComparer.Ordinal).ThenBy(m => m.Key.ShardId)
                    .Select(m =>
                    {
                        var (listener, shard) = passing[m.Key];
                        return (m.Socket, new SocketLabel(
                            listener.Name, shard.EndPoint, listener.Settings.Protocol, m.Key.ShardId, shard.Inode, m.Position, shard.Pinned));
                    }).ToList();
                return new Coordinator.SocketsToPass(sockets, generation);
            },
            failure: e => new Coordinator.CommandFailed(begin, $"the listening sockets could not be collected from their groups: {e.GetBaseException().Message}"));
        _log.Info("Upgrade: passing {Count} listening sockets to successor pid {Peer}", passing.Count, begin.PeerProcessId);
    }

    private void OnUpgradeFinished(Coordinator.UpgradeFinished finished)
    {
        var upgrade = _s.Upgrade;
        // Only the attempt that runs ends: a report about another peer (one refused meanwhile) changes nothing.
        if (upgrade?.SuccessorProcessId is { } expected && finished.PeerProcessId is { } peer && peer != expected)
        {
            _log.Debug("Upgrade report about pid {Peer} ignored: the upgrade in progress is with pid {Expected}", peer, expected);
            return;
        }
        if (upgrade is null && !finished.Outcome.IsCompleted)
        {
            _log.Debug("Upgrade report about pid {Peer} ignored: no upgrade in progress", finished.PeerProcessId);
            return;
        }
        _s.Upgrade = null;
        var outcome = finished.Outcome;
        var pid = finished.PeerProcessId ?? upgrade?.SuccessorProcessId ?? 0;
        if (outcome.IsCompleted && _settings.Upgrade.StabilityPeriod > TimeSpan.Zero)
        {
            _s.Upgrade = upgrade ?? new UpgradeInProgress(null);
            _s.Upgrade.SuccessorProcessId = pid;
            _s.Upgrade.Phase = UpgradeInProgress.Watching;
            _s.Upgrade.Outcome = outcome;
            StandBy(pid, outcome.Declined);
            return;
        }
        if (outcome.IsCompleted)
        {
            LetGo(upgrade, pid, outcome);
            return;
        }
        var reason = outcome.Reason ?? outcome.Result.ToString();
        _s.LastUpgradeFailure = $"rolled back: {reason}";
        SteerAll();
        _log.Warning("Upgrade rolled back, node {ProcessId} serves on: {Reason}", Environment.ProcessId, reason);
        upgrade?.Requester?.Tell(new Coordinator.CommandFailed(Coordinator.Upgrade.Instance, $"upgrade rolled back, node {Environment.ProcessId} serves on: {reason}"));
        CheckForeignHolders();
    }

    /// <summary>
    /// This node no longer serves its sockets: another process accepts on them. Every shard stops accepting and closes
    /// only this process's descriptor (never shutdown(): the kernel socket is shared), without steering (the group is
    /// the other process's to steer now). Declined sockets (their listener left the successor's configuration) retire
    /// here as a removed listener does, draining their queues. Open connections drain; then the node stops.
    /// </summary>
    private void Release(string why, IReadOnlyList<long> declined)
    {
        if (_s.LetGo) return;
        _s.LetGo = true;
        _s.Draining = true;
        var timeout = _settings.ShutdownDrainTimeout;
        _log.Info("Released the listening sockets: {Why}; open connections have {Timeout} to finish", why, timeout);
        RetireDeclined(declined);
        var passed = _s.Listeners.Values.SelectMany(l => l.Shards.Values).ToList();
        foreach (var shard in passed) shard.LetGo = true;
        // Open connections finish on their own, or close gracefully at the deadline (FIN after what is queued).
        RetireInGroups(passed, RetireMode.LetGo, timeout);
        CheckDrained();
    }

    private Coordinator.NodeStatus Status() =>
        new(Environment.ProcessId, _s.StartedAt, _s.Draining,
            _s.Listeners.Values.Concat(_s.Retired).OrderBy(l => l.Name, StringComparer.Ordinal).ThenBy(l => l.Retired).Select(l =>
            {
                var shards = l.Shards.Values.OrderBy(s => s.Key.ShardId).Select(s => new Coordinator.ShardStatus(
                    s.Key.ShardId,
                    s.Retiring ? "retiring" : s.Parked ? "standby" : "accepting",
                    s.Inode,
                    s.Counters.Accepted,
                    s.Counters.Open,
                    s.Counters.BytesReceived,
                    s.Counters.BytesSent)).ToList();
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
                        g.Number, g.Name, g.IsCurrent, g.LiveConnections, g.AssemblyPath, g.FileSha256)).ToList(),
                    handlers.LastReloadFailure,
                    shards);
            }).ToList(),
            _s.UpgradeOptions.ProcessGeneration,
            _s.Upgrade is { } upgrade ? new Coordinator.UpgradeStatus(upgrade.SuccessorProcessId, upgrade.Phase, upgrade.Since) : null,
            _s.LastUpgradeFailure,
            _s.LetGo,
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
