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
/// The changes a serving node makes: scale, settings (start-up, reload of the file, user code), the cluster's desired
/// state, handler reloads. Each is decided by the <see cref="Reconciler"/> and carried out by the executor
/// (<c>CoordinatorActor.Plan.cs</c>); handler code a change needs is loaded first, off this actor (<see cref="LoadThen"/>).
/// </summary>
internal sealed partial class CoordinatorActor
{
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
                Become(Behaviour(_s.Life));
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
                Behaviour(_s.Life)(message);
                break;
        }
    }

    private object Scale(Coordinator.ScaleTo scale)
    {
        if (Busy() is { } busy)
            return CommandFailedException.Reply(scale, busy);
        using var none = PreparedHandlers.None;
        var failure = Reconciler.Scale(Observe(), scale.Listener, scale.Shards, _s.ClusterOverrides) switch
        {
            Decision.Refused refused => refused.Reason,
            Decision.Planned planned => Execute(planned.Plan, none),
            _ => throw new InvalidOperationException("unknown decision"),
        };
        if (failure is not null) return CommandFailedException.Reply(scale, failure);
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
            requester.Tell(CommandFailedException.Reply(apply, busy));
            return;
        }
        LoadThen(PreparedHandlers.NeededBy(Reconciler.Effective(apply.Listeners, _s.ClusterOverrides), _s.Listeners), [], prepared =>
        {
            var failure = Busy() ?? ApplyConfigured(apply.Listeners, prepared);
            requester.Tell(failure is null ? Coordinator.SettingsApplied.Instance : CommandFailedException.Reply(apply, failure));
        });
    }

    private void Reload(Coordinator.Reload reload)
    {
        var requester = Sender;
        if (Busy() is { } busy)
        {
            requester.Tell(CommandFailedException.Reply(reload, busy));
            return;
        }
        if (reload.Listener is not null)
        {
            if (!_s.Listeners.TryGetValue(reload.Listener, out var one))
            {
                requester.Tell(CommandFailedException.Reply(reload,
                    $"no listener named '{reload.Listener}' (listeners: {string.Join(", ", _s.Listeners.Keys.Order(StringComparer.Ordinal))})"));
                return;
            }
            LoadThen([], [one], prepared => requester.Tell(FinishReload(reload, null, prepared)));
            return;
        }
        IReadOnlyList<ListenerSettings>? desired = null;
        IReadOnlyList<ListenerSettings>? file = null;
        if (_readListeners is not null)
        {
            try
            {
                file = _readListeners();
                desired = ReloadChanges.KeepRuntimeScale(file, _s.FromFile, _s.Configured);
            }
            catch (Exception e)
            {
                _log.Warning("Reload refused: the listeners could not be read again: {Reason}", e.Message);
                requester.Tell(CommandFailedException.Reply(reload, $"configuration not reloaded, nothing changed: {e.Message}", invalidConfiguration: true));
                return;
            }
            if (EmptyReloadRefusal(desired, reload.AllowEmpty) is { } empty)
            {
                _log.Warning("Reload refused: {Reason}", empty);
                requester.Tell(CommandFailedException.Reply(reload, empty));
                return;
            }
        }
        // Listeners the configuration creates (or replaces) get their first generation; the others reload theirs.
        var effective = desired is null ? null : Reconciler.Effective(desired, _s.ClusterOverrides);
        var kept = _s.Listeners.Values
            .Where(l => effective is null || effective.Any(s => s.Name == l.Name && s with { Shards = l.Settings.Shards } == l.Settings))
            .OrderBy(l => l.Name, StringComparer.Ordinal).ToList();
        LoadThen(effective is null ? [] : PreparedHandlers.NeededBy(effective, _s.Listeners), kept,
            prepared => requester.Tell(FinishReload(reload, desired, prepared, file)));
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

    /// <summary>Each listener's settings as it runs now: a scale or a change of only the shard count leaves its settings object as it was.</summary>
    private static Dictionary<string, ListenerSettings> SettingsNow(IEnumerable<ListenerState> listeners) =>
        listeners.ToDictionary(l => l.Name, l => l.Settings with { Shards = l.Desired }, StringComparer.Ordinal);

    /// <summary>
    /// The reload's handler code is loaded: applies <paramref name="desired"/> (when the file was read: <paramref name="file"/>
    /// as read, which the next reload compares with), switches generations, says what changed.
    /// </summary>
    private object FinishReload(Coordinator.Reload reload, IReadOnlyList<ListenerSettings>? desired, PreparedHandlers prepared,
        IReadOnlyList<ListenerSettings>? file = null)
    {
        if (Busy() is { } busy)
            return CommandFailedException.Reply(reload, busy);
        var before = _s.Listeners.Values.ToList();
        var beforeSettings = SettingsNow(before);
        if (desired is not null && ApplyConfigured(desired, prepared) is { } failure)
            return CommandFailedException.Reply(reload, $"configuration not applied, nothing changed: {failure}");
        if (file is not null) _s.FromFile = file;
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
        return CommandFailedException.Reply(reload, string.Join("; ", refused) + done);
    }

    /// <summary>Switches each listener to its next generation from <paramref name="prepared"/>: the generations now serving, and why each refusal happened.</summary>
    private (List<Coordinator.ListenerGeneration> Reloaded, List<string> Refused) ReloadHandlers(IEnumerable<ListenerState> listeners, PreparedHandlers prepared)
    {
        var reloaded = new List<Coordinator.ListenerGeneration>();
        var refused = new List<string>();
        foreach (var listener in listeners)
        {
            var (next, failure) = prepared.TakeGeneration(listener);
            var (tls, tlsFailure) = listener.Shared.Tls is null ? (null, null) : prepared.Tls.Take(listener);
            if (listener.Shared.Tls is not null && tls is null)
            {
                // The listener's reload is all or nothing: its files refused, neither its code nor its material changes.
                next?.Retire();
                listener.Handlers.RecordReloadFailure(tlsFailure!);
                _log.Warning("Listener {Listener} refused the reload: {Reason}; generation {Generation} and the TLS material loaded before keep serving",
                    listener.Name, tlsFailure, listener.Handlers.Current.Number);
                refused.Add($"listener '{listener.Name}': {tlsFailure} (generation {listener.Handlers.Current.Number} and the TLS material loaded before keep serving)");
                continue;
            }
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
            if (tls is not null)
            {
                listener.Shared.Tls!.Swap(tls); // new handshakes only: open connections keep the material they shook hands with
                LogTlsLoaded(listener.Name, tls, "serves new handshakes");
            }
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

    /// <summary>Logs the TLS material a listener took (at its start or a reload), and each warning about it (an expired certificate).</summary>
    private void LogTlsLoaded(string listener, Runtime.Tls.TlsMaterial tls, string what)
    {
        _log.Info("Listener {Listener}: TLS certificate {Subject} (valid until {NotAfter} UTC) from {Certificate} {What}",
            listener, tls.Certificate.Subject, tls.Certificate.NotAfter.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture),
            tls.Options.Certificate, what);
        foreach (var warning in tls.Warnings)
            _log.Warning("Listener {Listener}: {Warning}", listener, warning);
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
            requester.Tell(CommandFailedException.Reply(cluster, busy));
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
            requester.Tell(CommandFailedException.Reply(cluster, busy));
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
        if (_s.Life is NodeLife.AwaitingClusterState awaiting) SettleAdoption(awaiting, new NodeLife.Serving());
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
}
