using ShardRuntime.Actors.Settings;

namespace ShardRuntime.Actors.Coordination.Reconciliation;

/// <summary>
/// The coordinator's decisions as pure functions: from the desired listeners and the <see cref="ObservedNode"/> to a
/// <see cref="Decision"/>, a refusal with its reason or a <see cref="Plan"/>. No actor, socket or clock is involved, so
/// the decisions are tested directly (ReconcilerSpecs, ReconcilerProperties).
/// <para>
/// The model: the desired state is a list of <see cref="ListenerSettings"/> (the node's own, with the cluster's
/// overrides over them: <see cref="Effective"/>). The observed state is every listener incarnation with its shards
/// (accepting or retiring, pinned or not), the inherited socket groups not adopted yet, the ids issued so far, and two
/// facts of the node's life: a take-over not completed (retirements wait) and a drain (pinned sockets may retire).
/// A listener whose settings change in anything but the shard count is replaced by a new incarnation (new sockets on the
/// same port join the old ones' reuseport group); a change of only the shard count binds more sockets or retires the
/// accepting shards with the highest ids.
/// </para>
/// <para>
/// How the executor uses it: on every change (settings, scale, cluster state, take-over completed) it builds the
/// observed state from what it owns, asks for a decision, answers a refusal as it is, and otherwise runs the plan's
/// acquire steps (adopt, take handlers, bind); if one fails it releases what the others took and answers that failure
/// (nothing changed); else it runs the commit steps in order and records the shard ids and incarnations they issued.
/// Deferred steps are only shown; once the take-over completed, planning again with the same desired state brings them
/// back as commit steps. Planning again after a plan was executed yields an empty plan.
/// </para>
/// </summary>
internal static class Reconciler
{
    /// <summary>
    /// Decides how the node gets from <paramref name="observed"/> to <paramref name="desired"/>, or why it must not.
    /// </summary>
    /// <param name="desired">The listeners wanted, in order (the effective ones: <see cref="Effective"/>).</param>
    /// <param name="observed">The node now.</param>
    /// <param name="unknownHandler">Why a listener's built-in handler cannot serve it (unknown, or of the other kind than its protocol takes: the catalog's reason), or null.</param>
    public static Decision Plan(IReadOnlyList<ListenerSettings> desired, ObservedNode observed, Func<ListenerSettings, string?> unknownHandler)
    {
        if (Refusal(desired, observed, unknownHandler) is { } refusal) return new Decision.Refused(refusal);
        var plan = new PlanBuilder(observed);
        var wanted = desired.Select(l => l.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var removed in observed.CurrentListeners.Where(l => !wanted.Contains(l.Id.Name)))
            plan.RetireListener(removed);
        foreach (var settings in desired)
        {
            var existing = observed.Current(settings.Name);
            // Anything but the shard count changed: a new set of sockets replaces the old one. On the same endpoint the new
            // sockets join the old ones' reuseport group, so the port never stops accepting.
            var replace = existing is null || existing.Settings with { Shards = settings.Shards } != settings;
            if (!replace)
            {
                plan.Resize(existing!, settings.EffectiveShards);
                continue;
            }
            if (existing?.Shards.FirstOrDefault(s => s.Pinned && !s.Retiring) is { } pinned)
                return new Decision.Refused(
                    $"listener '{settings.Name}' serves socket inode {pinned.Inode}, which systemd holds and would keep listening with nobody accepting; " +
                    "a change other than its shard count needs `shardruntime upgrade` (the successor adopts the socket) or a restart");
            if (plan.Create(settings, existing) is { } failure) return new Decision.Refused(failure);
        }
        foreach (var listener in observed.Listeners.Where(l => l.Retired))
            plan.RetireRest(listener);
        foreach (var listener in observed.CurrentListeners.Where(l => wanted.Contains(l.Id.Name)))
            plan.SteerIfTakenOver(listener);
        return new Decision.Planned(plan.Build());
    }

    /// <summary>
    /// Decides how listener <paramref name="listener"/> runs <paramref name="shards"/> shards (the CLI's and user code's
    /// <c>scale</c>), keeping its settings; refused for an unknown listener, a bad count, or one the cluster scales or defines.
    /// </summary>
    public static Decision Scale(
        ObservedNode observed, string listener, int shards, IReadOnlyDictionary<string, Coordinator.ClusterOverride> clusterOverrides)
    {
        if (observed.Current(listener) is not { } existing)
            return new Decision.Refused(
                $"no listener named '{listener}' (listeners: {string.Join(", ", observed.CurrentListeners.Select(l => l.Id.Name).Order(StringComparer.Ordinal))})");
        if (ListenerSettings.ShardCountRefusal(listener, shards) is { } badCount)
            return new Decision.Refused(badCount);
        if (clusterOverrides.TryGetValue(listener, out var cluster) && (cluster.Shards is not null || cluster.Definition is not null))
            return new Decision.Refused(
                $"listener '{listener}' is {(cluster.Shards is { } n ? $"scaled by the cluster's desired state ({n} shards on this node)" : "defined by the cluster's desired state")}; " +
                $"change it there: `scale {listener} {shards} --cluster`");
        var plan = new PlanBuilder(observed);
        plan.Resize(existing, shards);
        return new Decision.Planned(plan.Build());
    }

    /// <summary>Why <paramref name="desired"/> cannot be planned at all, or null: the checks that need no listener's sockets.</summary>
    private static string? Refusal(IReadOnlyList<ListenerSettings> desired, ObservedNode observed, Func<ListenerSettings, string?> unknownHandler)
    {
        var duplicate = desired.GroupBy(l => l.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            return $"listener '{duplicate.Key}' is declared more than once";
        // Two listeners on one fixed endpoint would join one reuseport group and split its traffic between handlers.
        var shared = desired.Where(l => l.EndPoint.Port != 0).GroupBy(l => Coordinator.Describe(l.EndPoint, l.Protocol)).FirstOrDefault(g => g.Count() > 1);
        if (shared is not null)
            return $"listeners {string.Join(" and ", shared.Select(l => $"'{l.Name}'"))} are both declared on {shared.Key}";
        var kept = desired.Select(l => l.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var gone in observed.CurrentListeners.Where(l => !kept.Contains(l.Id.Name)))
        {
            if (gone.Shards.FirstOrDefault(s => s.Pinned && !s.Retiring) is { } pinned)
                return $"listener '{gone.Id.Name}' serves socket inode {pinned.Inode}, which systemd holds and would keep listening with nobody accepting; " +
                       "removing it needs `shardruntime upgrade` or a restart (and the socket taken out of the .socket unit)";
        }
        foreach (var settings in desired)
        {
            if (settings.HandlerAssembly is null && unknownHandler(settings) is { } unknown)
                return $"listener '{settings.Name}': {unknown}";
        }
        return null;
    }

    /// <summary>
    /// The desired listeners: the configured ones with the cluster's overrides over them (dropped where the cluster does
    /// not want them here, re-defined or re-scaled where it says so), then the ones only the cluster defines.
    /// </summary>
    public static List<ListenerSettings> Effective(IReadOnlyList<ListenerSettings> configured, IReadOnlyDictionary<string, Coordinator.ClusterOverride> overrides)
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
    /// The listeners whose cluster override differs between <paramref name="accepted"/> (what the node applied) and
    /// <paramref name="wanted"/> (the cluster's new state), in name order. When the whole new state cannot be applied, the
    /// executor tries these one at a time (<see cref="Trial"/>), so that one listener's trouble holds no other back.
    /// </summary>
    public static List<string> ChangedOverrides(
        IReadOnlyDictionary<string, Coordinator.ClusterOverride> accepted, IReadOnlyDictionary<string, Coordinator.ClusterOverride> wanted) =>
        accepted.Keys.Except(wanted.Keys)
            .Concat(wanted.Values.Where(o => !accepted.TryGetValue(o.Listener, out var a) || a != o).Select(o => o.Listener))
            .Order(StringComparer.Ordinal).ToList();

    /// <summary><paramref name="accepted"/> with <paramref name="listener"/>'s override as <paramref name="wanted"/> has it (or without it).</summary>
    public static Dictionary<string, Coordinator.ClusterOverride> Trial(
        IReadOnlyDictionary<string, Coordinator.ClusterOverride> accepted, IReadOnlyDictionary<string, Coordinator.ClusterOverride> wanted, string listener)
    {
        var trial = new Dictionary<string, Coordinator.ClusterOverride>(accepted, StringComparer.Ordinal);
        if (wanted.TryGetValue(listener, out var o)) trial[listener] = o;
        else trial.Remove(listener);
        return trial;
    }

    /// <summary>
    /// The reloads the cluster's handler generations call for, after its state was applied: a listener whose cluster
    /// generation rose since the one it last followed (<paramref name="followed"/>) reloads; one seen for the first time
    /// reloads only when its code was loaded before the generation was raised (a node that joined or created the listener
    /// since runs the newest code already), else it just follows that generation from now on. Returns the reloads and
    /// the generations followed afterwards (a refused reload is not tried again for the same generation).
    /// </summary>
    public static (IReadOnlyList<CommitStep.ReloadHandlers> Reloads, Dictionary<string, int> Followed) ClusterReloads(
        IEnumerable<Coordinator.ClusterOverride> overrides, ObservedNode observed, IReadOnlyDictionary<string, int> followed)
    {
        var reloads = new List<CommitStep.ReloadHandlers>();
        var after = new Dictionary<string, int>(followed, StringComparer.Ordinal);
        foreach (var o in overrides.Where(o => o.Served))
        {
            if (observed.Current(o.Listener) is not { } listener) continue;
            if (followed.TryGetValue(o.Listener, out var applied) ? o.HandlerGeneration > applied
                    : o.HandlerGeneration > 1 && listener.LoadedAt < o.GenerationRaisedAt)
            {
                reloads.Add(new CommitStep.ReloadHandlers(listener.Id, o.HandlerGeneration));
                after[o.Listener] = o.HandlerGeneration;
            }
            else
            {
                after.TryAdd(o.Listener, o.HandlerGeneration);
            }
        }
        return (reloads, after);
    }

    /// <summary>Collects one plan's steps, the inherited groups still free, and the ids it issues.</summary>
    private sealed class PlanBuilder(ObservedNode observed)
    {
        private readonly List<AcquireStep> _acquire = [];
        private readonly List<CommitStep> _starts = [];
        private readonly List<CommitStep> _retirements = [];
        private readonly List<CommitStep> _deferred = [];
        private readonly List<InheritedGroup> _inherited = observed.Inherited.ToList();
        private readonly Dictionary<string, int> _nextShardId = new(StringComparer.Ordinal);

        public Plan Build() => new(_acquire, [.. _starts, .. _retirements], _deferred);

        /// <summary>A new incarnation for <paramref name="settings"/> (replacing <paramref name="existing"/>, if any). Returns why not, or null.</summary>
        public string? Create(ListenerSettings settings, ObservedListener? existing)
        {
            var id = new ListenerId(settings.Name, observed.NextIncarnation.GetValueOrDefault(settings.Name, 1));
            var endPoint = existing is not null && existing.Settings.EndPoint.Equals(settings.EndPoint) ? existing.BoundEndPoint : null;
            // Sockets inherited from a predecessor (or systemd) are adopted instead of bound; only the rest is bound.
            var adopted = _inherited.FirstOrDefault(g => g.IsFor(settings));
            if (adopted is not null)
            {
                _inherited.Remove(adopted);
                endPoint = adopted.EndPoint;
                if (settings.EffectiveShards > adopted.Sockets.Count && !adopted.ReusePort)
                    return $"listener '{settings.Name}': the inherited socket on {adopted.EndPoint} has no SO_REUSEPORT, so no other socket can " +
                           $"join it for {settings.EffectiveShards} shards; set ReusePort=yes in its systemd .socket unit, or shards = {adopted.Sockets.Count}";
                _acquire.Add(new AcquireStep.Adopt(id, adopted, settings.Backlog));
            }
            _acquire.Add(new AcquireStep.TakeHandlers(id, settings));
            var inherited = adopted?.Sockets ?? [];
            var bound = Math.Max(0, settings.EffectiveShards - inherited.Count);
            if (bound > 0) _acquire.Add(new AcquireStep.Bind(id, bound, endPoint ?? settings.EndPoint, settings.Protocol, settings.Backlog));

            // Adopted sockets are group members already, in their positions; the ones bound here listen() after them.
            var shards = new List<NewShard>();
            var used = new HashSet<int>();
            foreach (var label in inherited)
            {
                var shardId = TakeShardId(settings.Name, label.ShardIndex, used);
                used.Add(shardId);
                shards.Add(new NewShard(shardId, label));
            }
            for (var i = 0; i < bound; i++) shards.Add(new NewShard(TakeShardId(settings.Name)));
            _starts.Add(new CommitStep.StartListener(id, settings));
            _starts.Add(new CommitStep.StartShards(id, shards));
            // More inherited sockets than wanted: the surplus retires (the highest ids; pinned ones stay).
            var surplus = shards.Where(s => !s.Pinned || observed.Draining).Select(s => s.ShardId)
                .OrderDescending().Take(shards.Count - settings.EffectiveShards).ToList();
            Retire(new CommitStep.RetireShards(id, surplus));
            if (existing is not null) RetireListener(existing);
            return null;
        }

        /// <summary>An existing listener keeps its settings and runs <paramref name="shards"/> shards: binds the missing ones or retires the surplus.</summary>
        public void Resize(ObservedListener existing, int shards)
        {
            var id = existing.Id;
            var bound = Math.Max(0, shards - existing.ActiveCount);
            if (existing.Desired != shards) _starts.Add(new CommitStep.SetDesired(id, shards));
            if (bound > 0)
            {
                _acquire.Add(new AcquireStep.Bind(id, bound, existing.BoundEndPoint ?? existing.Settings.EndPoint, existing.Settings.Protocol, existing.Settings.Backlog));
                _starts.Add(new CommitStep.StartShards(id, Enumerable.Range(0, bound).Select(_ => new NewShard(TakeShardId(id.Name))).ToList()));
            }
            // A pinned socket (systemd holds it too) never retires while the node runs: it would listen on with nobody accepting.
            var surplus = existing.Shards.Where(s => s.Retirable(observed.Draining)).Select(s => s.ShardId)
                .OrderDescending().Take(existing.ActiveCount + bound - shards).ToList();
            Retire(new CommitStep.RetireShards(id, surplus));
        }

        /// <summary>A listener no longer wanted under its name: it leaves the name; its shards retire (or wait for the take-over).</summary>
        public void RetireListener(ObservedListener listener)
        {
            var shardIds = listener.Shards.Where(s => s.Retirable(observed.Draining)).Select(s => s.ShardId).OrderDescending().ToList();
            if (observed.DefersRetirement)
            {
                _retirements.Add(new CommitStep.RetireListener(listener.Id, []));
                Retire(new CommitStep.RetireShards(listener.Id, shardIds));
            }
            else
            {
                _retirements.Add(new CommitStep.RetireListener(listener.Id, shardIds));
            }
        }

        /// <summary>A retired incarnation whose shards still accept (their retirement was deferred): they retire now.</summary>
        public void RetireRest(ObservedListener listener) =>
            Retire(new CommitStep.RetireShards(listener.Id, listener.Shards.Where(s => s.Retirable(observed.Draining)).Select(s => s.ShardId).OrderDescending().ToList()));

        /// <summary>A group taken over from a predecessor gets this node's steering program once the take-over completed.</summary>
        public void SteerIfTakenOver(ObservedListener listener)
        {
            if (!listener.Steered && !observed.PredecessorHolds && !_starts.Concat(_retirements).Any(s => s.Listener == listener.Id && s is CommitStep.StartShards or CommitStep.RetireShards or CommitStep.RetireListener))
                _starts.Add(new CommitStep.Steer(listener.Id));
        }

        private void Retire(CommitStep.RetireShards retire)
        {
            if (retire.ShardIds.Count == 0) return;
            (observed.DefersRetirement ? _deferred : _retirements).Add(retire);
        }

        /// <summary>
        /// The next never-issued shard id of <paramref name="name"/>, or <paramref name="preferred"/> (an adopted socket's)
        /// when it was never issued before this plan and is not <paramref name="used"/> by the same incarnation.
        /// </summary>
        private int TakeShardId(string name, int? preferred = null, IReadOnlySet<int>? used = null)
        {
            var issued = observed.NextShardId.GetValueOrDefault(name);
            var next = _nextShardId.GetValueOrDefault(name, issued);
            if (preferred is { } wanted && wanted >= issued && (used is null || !used.Contains(wanted)))
            {
                _nextShardId[name] = Math.Max(next, wanted + 1);
                return wanted;
            }
            _nextShardId[name] = next + 1;
            return next;
        }
    }
}
