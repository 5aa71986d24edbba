using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using ShardRuntime.Actors.Dispatch;
using ShardRuntime.Runtime.Sockets.Readiness;
using Akka.Event;
using ShardRuntime.Actors.Handlers;
using ShardRuntime.Actors.Upgrade;
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
            // Restarted: the shards (restarted along with us, sockets untouched) are watched again.
            foreach (var actor in _s.ByActor.Keys) Context.Watch(actor);
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

    private IActorRef? HandoffActor => Context.Child(Predecessor.ActorName) is var child && !child.IsNobody() ? child : null;

    /// <summary>The cluster's desired state is applied (or overdue): decline what no listener took, answer who asked.</summary>
    private void SettleInheritance()
    {
        _s.AwaitingClusterState = false;
        DeclineInherited();
        var inheritance = new Coordinator.Inheritance(_s.Adopted.ToList(), _s.Declined.ToList());
        foreach (var requester in _s.InheritanceRequesters) requester.Tell(inheritance);
        _s.InheritanceRequesters.Clear();
    }

    /// <summary>Timer: the cluster's desired state did not come in time for the inherited sockets.</summary>
    private sealed class ClusterStateOverdue
    {
        public static readonly ClusterStateOverdue Instance = new();
        private ClusterStateOverdue() { }
    }

    /// <summary>Inherited sockets no listener took: close this process's copies (the predecessor or systemd keeps its own).</summary>
    private void DeclineInherited()
    {
        foreach (var (socket, label) in _s.Inherited)
        {
            _log.Warning("Inherited socket {Label} is declined: no listener of this configuration is on {EndPoint}", label, label.EndPoint);
            _s.Declined.Add(label.Inode);
            socket.Dispose();
        }
        _s.Inherited.Clear();
    }

    /// <summary>
    /// The inherited sockets for <paramref name="settings"/>: a whole reuseport group (one endpoint), matched by endpoint
    /// for a fixed port and by listener name for port 0, in the group's kernel order.
    /// </summary>
    private List<(Socket Socket, SocketLabel Label)> Adopt(ListenerSettings settings)
    {
        if (_s.Inherited.Count == 0) return [];
        bool Matches(SocketLabel l) =>
            l.Protocol == settings.Protocol && (settings.EndPoint.Port != 0
                ? l.EndPoint.Equals(settings.EndPoint)
                : l.Listener == settings.Name && l.EndPoint.Address.Equals(settings.EndPoint.Address));
        var first = _s.Inherited.FirstOrDefault(i => Matches(i.Label));
        if (first.Socket is null) return [];
        var group = _s.Inherited
            .Where(i => i.Label.EndPoint.Equals(first.Label.EndPoint) && i.Label.Protocol == first.Label.Protocol)
            .OrderBy(i => i.Label.Position < 0 ? int.MaxValue : i.Label.Position).ThenBy(i => i.Label.ShardIndex)
            .ToList();
        _s.Inherited.RemoveAll(group.Contains);
        if (group.Count > 1 && group.Any(g => g.Label.Position < 0))
            _log.Warning("Listener {Listener}: the inherited sockets on {EndPoint} carry no group positions; steering assumes their order", settings.Name, first.Label.EndPoint);
        foreach (var (socket, label) in group)
        {
            if (settings.Protocol != TransportProtocol.Tcp) continue;
            try
            {
                socket.Listen(settings.Backlog); // listen() again only sets the backlog of a listening socket
            }
            catch (SocketException e)
            {
                _log.Warning("Listener {Listener}: could not set backlog {Backlog} on inherited socket {Label}: {Error}", settings.Name, settings.Backlog, label, e.Message);
            }
        }
        _s.Adopted.AddRange(group.Select(g => g.Label.Inode));
        _log.Info("Listener {Listener} adopts {Count} inherited sockets on {EndPoint} (inodes {Inodes}) instead of binding",
            settings.Name, group.Count, first.Label.EndPoint, string.Join(", ", group.Select(g => g.Label.Inode)));
        return group;
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
        // The node is going away: release every socket the shards did not close themselves.
        foreach (var shard in _s.Listeners.Values.Concat(_s.Retired).SelectMany(l => l.Shards.Values))
            shard.Socket.DisposeAll();
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
            case Coordinator.BeginHandover begin:
                Sender.Tell(BeginHandover(begin));
                break;
            case Coordinator.SuccessorStarted started when _s.Upgrade is { } running:
                running.SuccessorProcessId = started.ProcessId;
                running.Phase = "waiting for the successor to connect";
                break;
            case Coordinator.HandoverFinished finished:
                OnHandoverFinished(finished);
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
            case Coordinator.GetInheritance when _s.AwaitingClusterState:
                _s.InheritanceRequesters.Add(Sender);
                break;
            case Coordinator.GetInheritance:
                Sender.Tell(new Coordinator.Inheritance(_s.Adopted.ToList(), _s.Declined.ToList()));
                break;
            case ClusterStateOverdue when _s.AwaitingClusterState:
                _log.Warning("The cluster's desired state did not arrive within {Timeout}: inherited sockets no listener of the file takes are declined",
                    _settings.Upgrade.StepTimeout);
                SettleInheritance();
                break;
            case ClusterStateOverdue:
                break;
            case Coordinator.TakeoverCompleted:
                CompleteTakeover();
                break;
            case Coordinator.StandDown:
                Release("the predecessor abandoned the handover and serves on; this successor stands down", []);
                break;
            case ListenerProtocol.ReadyToClose ready:
                OnReadyToClose(Sender, ready);
                break;
            case Terminated terminated:
                OnShardTerminated(terminated.ActorRef);
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
                or Coordinator.BeginHandover or Coordinator.WaitUntilStarted or Coordinator.GetInheritance or Coordinator.TakeoverCompleted:
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
        if (_s.HandedOver) return "the node handed its listening sockets over and is draining";
        if (_s.Draining) return "the node is draining for shutdown";
        if (_s.Upgrade is { } upgrade)
            return $"an upgrade is in progress ({upgrade.Phase}{(upgrade.SuccessorProcessId is { } pid ? $", successor pid {pid}" : "")}, since {upgrade.Since:HH:mm:ss})";
        return null;
    }

    private object Scale(Coordinator.ScaleTo scale)
    {
        if (Busy() is { } busy)
            return new Coordinator.CommandFailed(scale, busy);
        if (!_s.Listeners.TryGetValue(scale.Listener, out var listener))
            return new Coordinator.CommandFailed(scale, $"no listener named '{scale.Listener}' (listeners: {string.Join(", ", _s.Listeners.Keys.Order(StringComparer.Ordinal))})");
        if (ListenerSettings.ShardCountRefusal(scale.Listener, scale.Shards) is { } badCount)
            return new Coordinator.CommandFailed(scale, badCount);
        if (_s.ClusterOverrides.TryGetValue(scale.Listener, out var cluster) && (cluster.Shards is not null || cluster.Definition is not null))
            return new Coordinator.CommandFailed(scale,
                $"listener '{scale.Listener}' is {(cluster.Shards is { } n ? $"scaled by the cluster's desired state ({n} shards on this node)" : "defined by the cluster's desired state")}; " +
                $"change it there: `scale {scale.Listener} {scale.Shards} --cluster`");

        if (!TryBind(listener.Settings, Math.Max(0, scale.Shards - listener.ActiveCount), listener.BoundEndPoint, out var sockets, out var failure))
            return new Coordinator.CommandFailed(scale, failure);
        listener.Desired = scale.Shards;
        // The node's own desired state changes with it, so that later cluster changes to other listeners keep it.
        _s.Configured = _s.Configured.Select(l => l.Name == scale.Listener ? l with { Shards = scale.Shards } : l).ToList();
        StartShards(listener, sockets.Select(b => (b, (int?)null)).ToList());
        RetireShards(listener, listener.ActiveCount - scale.Shards);
        _log.Info("Listener {Listener} scaled to {Shards} shards", listener.Name, scale.Shards);
        return new Coordinator.ScaledTo(listener.Name, listener.ActiveCount, listener.Shards.Values.Count(s => s.Retiring));
    }

    /// <summary>
    /// Makes the listeners match <paramref name="desired"/>: first validates and binds every socket the change
    /// needs (on failure those are closed and nothing changes), then starts new shards and retires old ones.
    /// User handlers come from <paramref name="prepared"/> (loaded off this thread beforehand; what is not committed
    /// stays there for another try with the same object). Returns why it could not, or null.
    /// </summary>
    private string? Apply(IReadOnlyList<ListenerSettings> desired, PreparedHandlers prepared)
    {
        var duplicate = desired.GroupBy(l => l.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            return $"listener '{duplicate.Key}' is declared more than once";
        // Two listeners on one fixed endpoint would join one reuseport group and split its traffic between handlers.
        var shared = desired.Where(l => l.EndPoint.Port != 0).GroupBy(l => Coordinator.Describe(l.EndPoint, l.Protocol)).FirstOrDefault(g => g.Count() > 1);
        if (shared is not null)
            return $"listeners {string.Join(" and ", shared.Select(l => $"'{l.Name}'"))} are both declared on {shared.Key}";
        var kept = desired.Select(l => l.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var gone in _s.Listeners.Values.Where(l => !kept.Contains(l.Name)))
        {
            if (gone.Shards.Values.FirstOrDefault(s => s.Socket.Pinned && !s.Retiring) is { } pinned)
                return $"listener '{gone.Name}' serves socket inode {pinned.Socket.Inode}, which systemd holds and would keep listening with nobody accepting; " +
                       "removing it needs `shardruntime upgrade` or a restart (and the socket taken out of the .socket unit)";
        }
        foreach (var settings in desired)
        {
            if (settings.HandlerAssembly is null && !_handlers.TryGet(settings.Handler, out _))
                return $"listener '{settings.Name}': {_handlers.UnknownHandlerReason(settings.Handler)}";
        }

        // Phase 1: load handlers and bind.
        var plan = new List<(ListenerSettings Settings, ListenerState? Existing, HandlerRegistry? Handlers, List<(Socket Socket, SocketLabel Label)> Adopted, List<Socket> Sockets)>();
        void Undo()
        {
            foreach (var (_, _, handlers, adopted, bound) in plan)
            {
                if (handlers is not null && !prepared.Holds(handlers)) handlers.Dispose();
                foreach (var socket in bound.Concat(adopted.Select(a => a.Socket))) socket.Dispose();
            }
        }
        foreach (var settings in desired)
        {
            _s.Listeners.TryGetValue(settings.Name, out var existing);
            // Anything but the shard count changed: a new set of sockets replaces the old one. On the same endpoint
            // the new sockets join the old ones' reuseport group, so the port never stops accepting.
            var replace = existing is null || existing.Settings with { Shards = settings.Shards } != settings;
            if (replace && existing is not null && existing.Shards.Values.FirstOrDefault(s => s.Socket.Pinned && !s.Retiring) is { } pinned)
            {
                Undo();
                return $"listener '{settings.Name}' serves socket inode {pinned.Socket.Inode}, which systemd holds and would keep listening with nobody accepting; " +
                       "a change other than its shard count needs `shardruntime upgrade` (the successor adopts the socket) or a restart";
            }
            var keepPort = existing is not null && existing.Settings.EndPoint.Equals(settings.EndPoint) ? existing.BoundEndPoint : null;
            // Sockets inherited from a predecessor (or systemd) are adopted instead of bound; only the rest is bound.
            var adopted = replace ? Adopt(settings) : [];
            if (adopted.Count > 0) keepPort = adopted[0].Label.EndPoint;
            if (adopted.Count > 0 && settings.EffectiveShards > adopted.Count && !SocketOptionsNative.GetReusePort(adopted[0].Socket))
            {
                foreach (var (socket, _) in adopted) socket.Dispose();
                Undo();
                return $"listener '{settings.Name}': the inherited socket on {adopted[0].Label.EndPoint} has no SO_REUSEPORT, so no other socket can " +
                       $"join it for {settings.EffectiveShards} shards; set ReusePort=yes in its systemd .socket unit, or shards = {adopted.Count}";
            }
            var count = replace ? Math.Max(0, settings.EffectiveShards - adopted.Count) : Math.Max(0, settings.EffectiveShards - existing!.ActiveCount);
            HandlerRegistry? handlers = null;
            if (replace)
            {
                if (settings.HandlerAssembly is null)
                {
                    _handlers.TryGet(settings.Handler, out var factory);
                    handlers = HandlerRegistry.ForFactory(settings.Name, factory);
                }
                else if (!prepared.TryGetRegistry(settings, out handlers, out var refusal))
                {
                    foreach (var (socket, _) in adopted) socket.Dispose();
                    Undo();
                    DeclineInherited();
                    return $"listener '{settings.Name}': {refusal}";
                }
            }
            if (!TryBind(settings, count, keepPort, out var sockets, out var failure))
            {
                if (handlers is not null && !prepared.Holds(handlers)) handlers.Dispose();
                foreach (var (socket, _) in adopted) socket.Dispose();
                Undo();
                return failure;
            }
            plan.Add((settings, existing, handlers, adopted, sockets));
        }

        // Phase 2: commit.
        var wanted = desired.Select(l => l.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var removed in _s.Listeners.Values.Where(l => !wanted.Contains(l.Name)).ToList())
        {
            _log.Info("Listener {Listener} is no longer configured; retiring it", removed.Name);
            RetireListener(removed);
        }
        foreach (var (settings, existing, handlers, adopted, sockets) in plan)
        {
            if (handlers is not null)
            {
                prepared.Claim(handlers);
                // The new sockets join the model first, so the old ones can all be steered away from.
                var listener = new ListenerState(settings, handlers);
                _s.Listeners[settings.Name] = listener;
                // Adopted sockets are group members already, in their positions; the ones bound here listen() after them.
                StartShards(listener, adopted.Select(a => (a.Socket, (int?)a.Label.ShardIndex)).Concat(sockets.Select(b => (b, (int?)null))).ToList());
                foreach (var shard in listener.Shards.Values)
                    shard.Socket.Pinned = adopted.Any(a => a.Label.Pinned && ReferenceEquals(a.Socket, shard.Socket.Socket));
                if (adopted.Count > settings.EffectiveShards)
                {
                    _log.Info("Listener {Listener} inherited {Adopted} sockets but is configured for {Shards}; retiring the rest{When}",
                        settings.Name, adopted.Count, settings.EffectiveShards, _s.TakingOver ? " once the predecessor released them" : "");
                    RetireShards(listener, listener.ActiveCount - settings.EffectiveShards); // deferred while taking over
                }
                if (existing is not null)
                {
                    _log.Info("Listener {Listener} changed; new sockets replace its {Shards} shards", settings.Name, existing.ActiveCount);
                    RetireListener(existing);
                }
            }
            else
            {
                existing!.Desired = settings.EffectiveShards;
                StartShards(existing, sockets.Select(b => (b, (int?)null)).ToList());
                RetireShards(existing, existing.ActiveCount - settings.EffectiveShards);
            }
        }
        return null;
    }

    private void ApplySettings(Coordinator.ApplySettings apply)
    {
        var requester = Sender;
        if (Busy() is { } busy)
        {
            requester.Tell(new Coordinator.CommandFailed(apply, busy));
            return;
        }
        LoadThen(PreparedHandlers.NeededBy(Effective(apply.Listeners, _s.ClusterOverrides), _s.Listeners), [], prepared =>
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
        var effective = desired is null ? null : Effective(desired, _s.ClusterOverrides);
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
        if (allowEmpty || desired.Count > 0 || Effective(desired, _s.ClusterOverrides).Count > 0 || _s.Listeners.Count == 0) return null;
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
            foreach (var shard in listener.Shards.Values) shard.Actor.Tell(changed);
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
        var failure = Apply(Effective(configured, _s.ClusterOverrides), prepared);
        if (failure is not null) _s.Configured = previous;
        return failure;
    }

    /// <summary>
    /// The desired listeners: the configured ones with the cluster's overrides over them (dropped where the cluster does
    /// not want them here, re-defined or re-scaled where it says so), then the ones only the cluster defines.
    /// </summary>
    private static List<ListenerSettings> Effective(IReadOnlyList<ListenerSettings> configured, IReadOnlyDictionary<string, Coordinator.ClusterOverride> overrides)
    {
        static ListenerSettings Over(ListenerSettings settings, Coordinator.ClusterOverride o) =>
            o.Shards is { } shards ? settings with { Shards = shards } : settings;
        var desired = new List<ListenerSettings>();
        foreach (var listener in configured)
        {
            if (!overrides.TryGetValue(listener.Name, out var o)) desired.Add(listener);
            else if (o.Served) desired.Add(Over(o.Definition ?? listener, o));
        }
        var names = configured.Select(l => l.Name).ToHashSet(StringComparer.Ordinal);
        desired.AddRange(overrides.Values
            .Where(o => o.Served && o.Definition is not null && !names.Contains(o.Listener))
            .OrderBy(o => o.Listener, StringComparer.Ordinal)
            .Select(o => Over(o.Definition!, o)));
        return desired;
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
            Effective(_s.Configured, overrides).Concat(Effective(_s.Configured, _s.ClusterOverrides)), _s.Listeners);
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
        if (Apply(Effective(_s.Configured, overrides), prepared) is not null)
        {
            // One listener's trouble (a port taken on this node, an unknown handler) must not hold the others back:
            // the changes are tried one listener at a time; each that fails changes nothing and is reported.
            var accepted = new Dictionary<string, Coordinator.ClusterOverride>(_s.ClusterOverrides, StringComparer.Ordinal);
            var changed = accepted.Keys.Except(overrides.Keys).Concat(overrides.Values.Where(o => !accepted.TryGetValue(o.Listener, out var a) || a != o).Select(o => o.Listener))
                .Order(StringComparer.Ordinal).ToList();
            foreach (var name in changed)
            {
                var trial = new Dictionary<string, Coordinator.ClusterOverride>(accepted, StringComparer.Ordinal);
                if (overrides.TryGetValue(name, out var o)) trial[name] = o;
                else trial.Remove(name);
                if (Apply(Effective(_s.Configured, trial), prepared) is { } failure) problems.Add(failure);
                else accepted = trial;
            }
            overrides = accepted;
        }
        _s.ClusterOverrides = overrides;
        if (_s.AwaitingClusterState) SettleInheritance();
        var rose = new List<(ListenerState Listener, int Generation)>();
        foreach (var o in overrides.Values.Where(o => o.Served))
        {
            if (!_s.Listeners.TryGetValue(o.Listener, out var listener)) continue;
            if (_s.ClusterGenerations.TryGetValue(o.Listener, out var applied) ? o.HandlerGeneration > applied
                    // First sight of a raised generation: reload only code loaded before the change (a node that joined or
                    // created the listener since runs the newest code already).
                    : o.HandlerGeneration > 1 && listener.LoadedAt < o.GenerationRaisedAt)
                rose.Add((listener, o.HandlerGeneration));
            else
                _s.ClusterGenerations.TryAdd(o.Listener, o.HandlerGeneration);
        }
        foreach (var (listener, generation) in rose)
        {
            _log.Info("Listener {Listener}: the cluster's handler generation rose to {ClusterGeneration}; reloading", listener.Name, generation);
            // A refused reload is not tried again for the same generation: the listener's running generation serves on
            // (ReloadHandlers logs why; the listener's status shows it as its last reload failure).
            _s.ClusterGenerations[listener.Name] = generation;
        }
        LoadThen([], rose.Select(r => r.Listener).ToList(), next =>
        {
            ReloadHandlers(rose.Select(r => r.Listener).Where(l => !l.Retired), next);
            requester.Tell(new Coordinator.ClusterStateApplied(problems));
        });
    }

    /// <summary>Binds <paramref name="count"/> sockets for a listener, all or none.</summary>
    private bool TryBind(ListenerSettings settings, int count, IPEndPoint? boundEndPoint, out List<Socket> sockets, out string failure)
    {
        sockets = new List<Socket>(count);
        failure = "";
        var endPoint = boundEndPoint ?? settings.EndPoint;
        try
        {
            for (var i = 0; i < count; i++)
            {
                var socket = _socketFactory.Bind(new ListenerSocketOptions(endPoint, settings.Protocol, settings.Backlog));
                sockets.Add(socket);
                // Port 0: the first socket got an ephemeral port; the others join it there.
                endPoint = (IPEndPoint)socket.LocalEndPoint!;
            }
            return true;
        }
        catch (ListenerBindException e)
        {
            _log.Error("Listener {Listener}: {Reason}", settings.Name, e.Message);
            failure = $"listener '{settings.Name}': {e.Message}";
        }
        foreach (var socket in sockets) socket.Dispose();
        sockets.Clear();
        return false;
    }

    /// <summary>Starts a shard on each socket, in the order they joined their reuseport group; an adopted socket keeps its shard id when free.</summary>
    private void StartShards(ListenerState listener, List<(Socket Socket, int? ShardId)> sockets)
    {
        foreach (var (socket, preferredId) in sockets)
        {
            ShardSocket shardSocket;
            try
            {
                var shardId = _s.TakeShardId(listener.Name, preferredId, listener.Shards.Keys);
                var loop = shardId % _settings.IoLoops;
                shardSocket = new ShardSocket(socket, shardId, ReadinessEngine.Loop(loop),
                    _settings.ActorsOnIoLoops ? IoLoopDispatchers.Id(loop) : null);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
            listener.BoundEndPoint ??= shardSocket.EndPoint;
            GroupOf(listener, shardSocket).Add(socket);
            StartShard(listener, new ShardState(shardSocket));
        }
        if (sockets.Count > 0 && listener.BoundEndPoint is not null)
            Steer(listener.Settings, GroupKey(listener.Settings, listener.BoundEndPoint));
    }

    private static string GroupKey(ListenerSettings settings, IPEndPoint bound) => Coordinator.Describe(bound, settings.Protocol);

    private ReuseportGroup GroupOf(ListenerState listener, ShardSocket socket)
    {
        var key = GroupKey(listener.Settings, socket.EndPoint);
        if (!_s.Groups.TryGetValue(key, out var group))
            _s.Groups[key] = group = new ReuseportGroup();
        return group;
    }

    private void CompleteTakeover()
    {
        if (!_s.TakingOver) return;
        _s.TakingOver = false;
        foreach (var listener in _s.RetireAfterTakeover)
            RetireShards(listener, listener.Retired ? listener.ActiveCount : listener.ActiveCount - listener.Desired);
        foreach (var listener in _s.Listeners.Values.Where(l => !_s.RetireAfterTakeover.Contains(l)).OrderBy(l => l.Name, StringComparer.Ordinal))
        {
            if (listener.BoundEndPoint is not null)
                Steer(listener.Settings, GroupKey(listener.Settings, listener.BoundEndPoint));
        }
        _s.RetireAfterTakeover.Clear();
    }

    /// <summary>Makes the kernel steer the group's new connections to its accepting members. False when it could not.</summary>
    private bool Steer(ListenerSettings settings, string key)
    {
        // The predecessor still holds the groups (and their program) until it released them.
        if (_s.TakingOver) return true;
        if (!_s.Groups.TryGetValue(key, out var group) || group.Count == 0) return true;
        // One member: every connection goes to it anyway (and a socket without SO_REUSEPORT, such as one systemd made
        // without ReusePort=yes, takes no program).
        if (group.Count == 1 && group.Accepting.Count == 1) return true;
        // Every member retiring (shutdown, a removed listener): nothing to steer to; the drains finish on their own.
        if (group.Accepting.Count == 0) return true;
        try
        {
            group.ApplySteering();
            return true;
        }
        catch (Exception e) when (e is ReuseportSteeringException or SocketException or ObjectDisposedException or InvalidOperationException or ArgumentException)
        {
            _log.Warning("Listener {Listener}: steering of {Group} failed: {Error}; retiring sockets close without draining", settings.Name, key, e.Message);
            return false;
        }
    }

    private void StartShard(ListenerState listener, ShardState shard)
    {
        var props = ListenerProtocol.Props(listener.Settings, shard.Socket, listener.Handlers, listener.Budget, shard.Counters);
        if (shard.Socket.Dispatcher is { } dispatcher) props = props.WithDispatcher(dispatcher);
        var actor = Context.ActorOf(props, ListenerProtocol.ActorName(listener.Name, shard.Socket.ShardId));
        Context.Watch(actor);
        shard.Actor = actor;
        listener.Shards[shard.Socket.ShardId] = shard;
        _s.ByActor[actor] = (listener, shard);
    }

    /// <summary>
    /// Retires the <paramref name="count"/> accepting shards with the highest ids. While other sockets of the same
    /// reuseport group keep accepting, new connections are steered away from the retiring ones first; every retiring
    /// shard drains its accept queue before it closes (the last sockets of a removed listener serve until quiet).
    /// </summary>
    private void RetireShards(ListenerState listener, int count)
    {
        if (_s.TakingOver && !_s.Draining)
        {
            // The predecessor still holds the shared groups (and accepts on them): closing this process's copy would not
            // take a socket out of its group. Whatever retires now retires once the predecessor released them.
            if (count > 0 && !_s.RetireAfterTakeover.Contains(listener)) _s.RetireAfterTakeover.Add(listener);
            return;
        }
        // A pinned socket (systemd holds it too) never retires while the node runs: it would listen on with nobody accepting.
        var retiring = listener.Shards.Values.Where(s => !s.Retiring && (!s.Socket.Pinned || _s.Draining))
            .OrderByDescending(s => s.Socket.ShardId).Take(Math.Max(0, count)).ToList();
        if (retiring.Count == 0) return;
        var steered = new HashSet<ShardState>();
        foreach (var shard in retiring)
        {
            shard.Retiring = true;
            var group = GroupOf(listener, shard.Socket);
            if (!shard.Socket.IsDisposed && group.Members.Contains(shard.Socket.Socket) && group.Accepting.Count > 1)
            {
                group.MarkRetiring(shard.Socket.Socket);
                steered.Add(shard);
            }
        }
        if (steered.Count > 0 && !Steer(listener.Settings, GroupKey(listener.Settings, steered.First().Socket.EndPoint)))
            steered.Clear();
        foreach (var shard in retiring)
        {
            if (!steered.Contains(shard))
                _log.Info("Shard {Listener}/{Shard} retires without steering (no other socket of its port accepts); it drains its queue until quiet",
                    listener.Name, shard.Socket.ShardId);
            shard.Actor.Tell(new ListenerProtocol.Retire(listener.Settings.DrainTimeout, DrainQueue: true));
        }
    }

    /// <summary>
    /// A retiring shard drained its queue: its socket is closed here, where the group model lives, so that model and
    /// kernel change in the same order, and the shard is told. A member that drained while others of its group still
    /// drain waits for them (it keeps accepting meanwhile): closing them together, last position first, moves no other
    /// member, so the steering program stays right and none of them drains again (one close per retiring socket, however
    /// many retire at once).
    /// </summary>
    private void OnReadyToClose(IActorRef shardActor, ListenerProtocol.ReadyToClose ready)
    {
        if (!_s.ByActor.TryGetValue(shardActor, out var entry))
        {
            shardActor.Tell(ListenerProtocol.SocketClosed.Instance);
            return;
        }
        // Handed over (Shared): the successor holds the same socket and accepts its queue; only this process's copy
        // closes. At shutdown (AtOnce) every socket closes anyway: no reason to wait for the others or drain again.
        if (entry.Shard.Socket.Shared || ready.AtOnce)
        {
            CloseRetired(entry.Listener, entry.Shard, ready);
            LeaveGroup(entry.Listener, entry.Shard);
            return;
        }
        entry.Shard.HeldClose = ready;
        CloseDrainedMembers(GroupKey(entry.Listener.Settings, entry.Shard.Socket.EndPoint));
    }

    /// <summary>
    /// Closes the retiring members of group <paramref name="key"/> once each has drained its queue since it last heard of
    /// a steering change (at shutdown: each that has). Those at the end of the group close first, last position first:
    /// such a close moves no other member. One in the middle moves the last member into its slot, so after it the group
    /// is steered again and the members still open drain again (they may have got connections meanwhile).
    /// </summary>
    private void CloseDrainedMembers(string key)
    {
        var retiring = _s.ByActor.Values.Where(e => e.Shard.Retiring && !e.Shard.Socket.IsDisposed).ToList();
        if (!_s.Groups.TryGetValue(key, out var group))
        {
            // Not in a group (any more): nothing to steer, nobody moves.
            foreach (var (listener, shard) in retiring.Where(e => e.Shard.HeldClose is not null && GroupKey(e.Listener.Settings, e.Shard.Socket.EndPoint) == key))
                CloseRetired(listener, shard, shard.HeldClose!);
            return;
        }
        var members = retiring.Where(e => group.Members.Contains(e.Shard.Socket.Socket)).ToDictionary(e => e.Shard.Socket.Socket);
        foreach (var (_, shard) in members.Values.Where(e => !_s.Draining && e.Shard.HeldClose is { } held && held.SteeringChangesSeen < e.Shard.SteeringChangesSent))
        {
            // Another member closed since it found its queue quiet: until the re-steer the kernel could still queue here.
            // (Not at shutdown: every socket closes then.)
            shard.HeldClose = null;
            shard.Actor.Tell(ListenerProtocol.DrainAgain.Instance);
        }
        if (!_s.Draining && members.Values.Any(e => e.Shard.HeldClose is null)) return;

        var closedAny = false;
        while (group.Count > 0 && members.TryGetValue(group.Members[^1], out var last) && last.Shard.HeldClose is { } held)
        {
            CloseRetired(last.Listener, last.Shard, held);
            group.Remove(last.Shard.Socket.Socket);
            closedAny = true;
        }
        var inner = members.Values.Where(e => e.Shard.HeldClose is not null)
            .OrderByDescending(e => group.PositionOf(e.Shard.Socket.Socket)).FirstOrDefault();
        if (inner.Shard is { } shardInside)
        {
            CloseRetired(inner.Listener, shardInside, shardInside.HeldClose!);
            LeaveGroup(inner.Listener, shardInside); // re-steers and tells the members still open
            CloseDrainedMembers(key); // at shutdown the others close now too; otherwise they drain again first
            return;
        }
        if (!closedAny) return;
        if (group.Count == 0) _s.Groups.Remove(key);
        else Steer(members.Values.First().Listener.Settings, key);
    }

    /// <summary>Closes a retiring shard's socket (after <see cref="ListenerProtocol.ReadyToClose"/>) and tells the shard; the group model is the caller's.</summary>
    private void CloseRetired(ListenerState listener, ShardState shard, ListenerProtocol.ReadyToClose ready)
    {
        shard.HeldClose = null;
        if (ready.QueuedAtClose > 0 && !shard.Socket.Shared)
            _log.Warning("Listener {Listener}: shard {Shard} closes with {Queued} connections still queued", listener.Name, ready.ShardId, ready.QueuedAtClose);
        shard.Socket.Dispose();
        shard.Actor.Tell(ListenerProtocol.SocketClosed.Instance);
        CheckLetGo(); // handed over: once this process's last copy is closed, the successor hears it let go
    }

    private void LeaveGroup(ListenerState listener, ShardState shard)
    {
        var key = GroupKey(listener.Settings, shard.Socket.EndPoint);
        if (!_s.Groups.TryGetValue(key, out var group) || !group.Members.Contains(shard.Socket.Socket)) return;
        group.Remove(shard.Socket.Socket);
        if (group.Count == 0)
        {
            _s.Groups.Remove(key);
            return;
        }
        Steer(listener.Settings, key);
        // Connections steered by the old program may still be on their way to the other retiring members.
        foreach (var (other, otherShard) in _s.ByActor.Values)
        {
            if (otherShard.Retiring && group.Members.Contains(otherShard.Socket.Socket))
            {
                otherShard.SteeringChangesSent++;
                otherShard.Actor.Tell(ListenerProtocol.SteeringChanged.Instance);
            }
        }
    }

    private void RetireListener(ListenerState listener)
    {
        listener.Retired = true;
        if (_s.Listeners.TryGetValue(listener.Name, out var current) && ReferenceEquals(current, listener))
            _s.Listeners.Remove(listener.Name);
        RetireShards(listener, listener.ActiveCount);
        if (listener.Shards.Count > 0) _s.Retired.Add(listener);
        else listener.Handlers.Dispose();
    }

    private void OnShardTerminated(IActorRef actor)
    {
        if (!_s.ByActor.Remove(actor, out var entry)) return;
        var (listener, shard) = entry;
        if (shard.Retiring || _s.Draining)
        {
            shard.Socket.DisposeAll();
            LeaveGroup(listener, shard);
            CloseDrainedMembers(GroupKey(listener.Settings, shard.Socket.EndPoint)); // the others may have waited for it
            listener.Shards.Remove(shard.Socket.ShardId);
            if (listener.Retired && listener.Shards.Count == 0)
            {
                _s.Retired.Remove(listener);
                listener.Handlers.Dispose(); // no shard can acquire any more; generations unload as connections end
            }
            CheckLetGo();
            if (_s.Draining) CheckDrained();
            return;
        }
        // An accepting shard stopped after exhausting its restarts: start a fresh actor on the very same socket.
        _log.Warning("Shard {Listener}/{Shard} stopped unexpectedly; starting it again on the same socket", listener.Name, shard.Socket.ShardId);
        StartShard(listener, shard);
    }

    private void BeginDrain(Coordinator.Drain drain)
    {
        _s.DrainRequesters.Add(Sender);
        if (!_s.Draining)
        {
            _s.Draining = true;
            _log.Info("Draining: every listener stops accepting; open connections have {Timeout} to finish", drain.Timeout);
            // A successor being served gets an Abort: it stands down, and the sockets close with this node.
            HandoffActor?.Tell(new Predecessor.Abort("the node is shutting down"));
        }
        // Every shard retires (again, for those already retiring: a nearer deadline wins).
        foreach (var shard in _s.ByActor.Values.Select(e => e.Shard))
        {
            shard.Retiring = true;
            shard.Actor.Tell(new ListenerProtocol.Retire(drain.Timeout, DrainQueue: false));
        }
        // Members that drained and waited for the others of their group close now.
        foreach (var key in _s.Groups.Keys.ToList()) CloseDrainedMembers(key);
        CheckDrained();
    }

    private void CheckDrained()
    {
        if (_s.ByActor.Count > 0) return;
        if (_s.DrainRequesters.Count > 0)
        {
            _log.Info("Drained: no listener accepts and no connection is open");
            foreach (var requester in _s.DrainRequesters) requester.Tell(Coordinator.Drained.Instance);
            _s.DrainRequesters.Clear();
        }
        if (_s.HandedOver && !_s.StopRequested)
        {
            // Its successor serves the sockets now: the node's work is done.
            _s.StopRequested = true;
            _log.Info("Handed over and drained: node {ProcessId} stops", Environment.ProcessId);
            CoordinatedShutdown.Get(Context.System).Run(HandedOverReason.Instance);
        }
    }

    /// <summary>Why a handover cannot start now, or null.</summary>
    private string? HandoverRefusal()
    {
        if (Busy() is { } busy) return busy;
        if (_s.StartFailure is not null) return $"the node did not start: {_s.StartFailure}";
        // A retiring socket still drains its queue; the successor would have to steer it without knowing it drains.
        var draining = _s.Listeners.Values.Concat(_s.Retired)
            .SelectMany(l => l.Shards.Values.Where(s => s.Retiring && !s.Socket.IsDisposed).Select(s => $"{l.Name}/{s.Socket.ShardId}"))
            .ToList();
        if (draining.Count > 0)
            return $"shard(s) {string.Join(", ", draining)} still drain their accept queues; try again once they closed (retire-queue-timeout at most)";
        return null;
    }

    private void StartUpgrade(Coordinator.Upgrade upgrade)
    {
        var refusal = HandoverRefusal();
        if (refusal is null && HandoffActor is null)
            refusal = "upgrades are off on this node (shard-runtime.upgrade.enabled = off)";
        if (refusal is null && _s.UpgradeOptions.StartSuccessor is null)
            refusal = "this node cannot start a successor (it was not started by the shardruntime host); start one with `run --takeover`";
        if (refusal is not null)
        {
            _log.Warning("Upgrade refused: {Reason}", refusal);
            _s.LastUpgradeFailure = $"refused: {refusal}";
            Sender.Tell(new Coordinator.CommandFailed(upgrade, refusal));
            return;
        }
        _s.Upgrade = new UpgradeInProgress(Sender);
        _log.Info("Upgrade: starting a successor process to take over the listening sockets");
        HandoffActor!.Tell(Predecessor.StartSuccessor.Instance);
    }

    private object BeginHandover(Coordinator.BeginHandover begin)
    {
        string? refusal;
        if (_s.Draining || _s.Upgrade is null)
            refusal = HandoverRefusal();
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
            _log.Warning("Handover to pid {Peer} refused: {Reason}", begin.PeerProcessId, refusal);
            return new Coordinator.CommandFailed(begin, refusal);
        }

        var upgrade = _s.Upgrade ??= new UpgradeInProgress(null);
        upgrade.SuccessorProcessId = begin.PeerProcessId;
        upgrade.Phase = UpgradeInProgress.PassingSockets;
        var sockets = new List<(Socket, SocketLabel)>();
        foreach (var listener in _s.Listeners.Values.OrderBy(l => l.Name, StringComparer.Ordinal))
        {
            foreach (var shard in listener.Shards.Values.Where(s => !s.Retiring).OrderBy(s => s.Socket.ShardId))
            {
                var position = _s.Groups.TryGetValue(GroupKey(listener.Settings, shard.Socket.EndPoint), out var group) && group.Members.Contains(shard.Socket.Socket)
                    ? group.PositionOf(shard.Socket.Socket)
                    : -1;
                sockets.Add((shard.Socket.Socket, new SocketLabel(
                    listener.Name, shard.Socket.EndPoint, listener.Settings.Protocol, shard.Socket.ShardId, shard.Socket.Inode, position, shard.Socket.Pinned)));
            }
        }
        _log.Info("Handover: passing {Count} listening sockets to successor pid {Peer}", sockets.Count, begin.PeerProcessId);
        return new Coordinator.HandoverSockets(sockets, _s.UpgradeOptions.ProcessGeneration);
    }

    private void OnHandoverFinished(Coordinator.HandoverFinished finished)
    {
        var upgrade = _s.Upgrade;
        // Only the attempt that runs ends: a report about another peer (one refused meanwhile) changes nothing.
        if (upgrade?.SuccessorProcessId is { } expected && finished.PeerProcessId is { } peer && peer != expected)
        {
            _log.Debug("Handover report about pid {Peer} ignored: the upgrade in progress is with pid {Expected}", peer, expected);
            return;
        }
        if (upgrade is null && !finished.Outcome.IsCompleted)
        {
            _log.Debug("Handover report about pid {Peer} ignored: no upgrade in progress", finished.PeerProcessId);
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
        if (_s.HandedOver) return;
        _s.HandedOver = true;
        _s.Draining = true;
        var timeout = _settings.ShutdownDrainTimeout;
        _log.Info("Released the listening sockets: {Why}; open connections have {Timeout} to finish", why, timeout);
        RetireDeclined(declined);
        foreach (var listener in _s.Listeners.Values.ToList())
        {
            foreach (var shard in listener.Shards.Values)
            {
                _s.Groups.Remove(GroupKey(listener.Settings, shard.Socket.EndPoint));
                shard.Socket.Shared = true;
                shard.Retiring = true;
                // Open connections finish on their own, or close gracefully at the deadline (FIN after what is queued).
                shard.Actor.Tell(new ListenerProtocol.Retire(timeout, DrainQueue: false, Graceful: true));
            }
        }
        CheckDrained();
    }

    private Coordinator.NodeStatus Status() =>
        new(Environment.ProcessId, _s.StartedAt, _s.Draining,
            _s.Listeners.Values.Concat(_s.Retired).OrderBy(l => l.Name, StringComparer.Ordinal).ThenBy(l => l.Retired).Select(l =>
            {
                var shards = l.Shards.Values.OrderBy(s => s.Socket.ShardId).Select(s => new Coordinator.ShardStatus(
                    s.Socket.ShardId,
                    s.Retiring ? "retiring" : s.Socket.Standby ? "standby" : "accepting",
                    s.Socket.Inode,
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
            _s.HandedOver,
            _s.Transport.Description,
            _s.Transport.IsInsecure);
}

/// <summary>Why the node's actor system stops after a process upgrade: a successor serves its sockets.</summary>
internal sealed class HandedOverReason : CoordinatedShutdown.Reason
{
    public static readonly HandedOverReason Instance = new();
    private HandedOverReason() { }

    /// <inheritdoc />
    public override int ExitCode => 0;
}
