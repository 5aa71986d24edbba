using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Akka.DistributedData;
using Akka.Event;
using ShardRuntime.Actors.Settings;
using CoordinatorProtocol = ShardRuntime.Actors.Coordinator.Coordinator;

namespace ShardRuntime.Actors.Cluster;

/// <summary>
/// One per node. Holds the node's replica of the desired state (subscribed to the replicator), resolves it for this
/// node (its roles, its listener-defaults and bind-address) and hands it to the coordinator, one apply at a time, again
/// after a refusal. Writes changes with the consistency the cluster can give (all nodes when all are reachable, else a
/// majority; none below a majority), answers other nodes' status and reload requests, and runs rolling reloads.
/// </summary>
internal sealed class ClusterListenersActor : UntypedActor, IWithTimers
{
    /// <summary>The replicated desired state: listener name -> <see cref="ClusterListener"/>, last writer wins per listener.</summary>
    public static readonly LWWDictionaryKey<string, ClusterListener> Key = new("shard-runtime-listeners");

    private const string InSync = "in sync";
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ShardRuntimeSettings _settings;
    private readonly Settings.ClusterSettings _c;
    private readonly IActorRef _coordinator;
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly IActorRef _replicator = DistributedData.Get(Context.System).Replicator;
    private LWWDictionary<string, ClusterListener> _state = LWWDictionary<string, ClusterListener>.Empty;
    private IReadOnlyList<CoordinatorProtocol.ClusterOverride> _applied = [];
    private bool _sent;
    private bool _followedOnce;
    private readonly List<IActorRef> _followWaiters = new();
    private bool _applying;
    private bool _dirty;
    private string _following = InSync;
    private TimeSpan _retryDelay;
    private string? _removed;
    private IActorRef? _rollingReload;
    private bool _reloadingNode;

    public ClusterListenersActor(ShardRuntimeSettings settings, IActorRef coordinator)
    {
        _settings = settings;
        _c = settings.Cluster;
        _coordinator = coordinator;
        _retryDelay = settings.Cluster.RetryInterval;
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>A rolling reload that throws is stopped (its requester's ask times out), never started over from its first node.</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    protected override void PreStart()
    {
        _replicator.Tell(Dsl.Subscribe(Key, Self));
        var self = Self;
        _cluster.RegisterOnMemberRemoved(() => self.Tell(SelfRemoved.Instance));
        // Once up, read the desired state from a majority (a node that just joined has none of it yet) and follow it,
        // even when it is empty: the coordinator of a successor waits for one state before it declines sockets.
        _cluster.RegisterOnMemberUp(() => self.Tell(SelfUp.Instance));
        var config = Context.System.Settings.Config;
        var seeds = _cluster.Settings.SeedNodes;
        var resolver = config.GetString("akka.cluster.downing-provider-class", "").Contains("SplitBrainResolver", StringComparison.Ordinal)
            ? $"split-brain resolver {config.GetString("akka.cluster.split-brain-resolver.active-strategy", "?")} " +
              $"(stable after {config.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after", TimeSpan.Zero)}), " +
              (_cluster.Settings.RunCoordinatedShutdownWhenDown ? "a downed node shuts down" : "a downed node serves on")
            : "no split-brain resolver";
        _log.Info("Cluster node {Address} with roles [{Roles}]; {Seeds}; {Resolver}; the desired state of listeners is replicated to every node (gossip every {Gossip})",
            _cluster.SelfAddress, string.Join(", ", _cluster.SelfRoles.Order(StringComparer.Ordinal)),
            seeds.Count == 0 ? "no seed nodes: it forms a cluster alone" : $"seed nodes {string.Join(", ", seeds)}",
            resolver, config.GetTimeSpan("akka.cluster.distributed-data.gossip-interval", TimeSpan.Zero));
    }

    protected override void PostStop() => _replicator.Tell(Dsl.Unsubscribe(Key, Self));

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case SelfUp:
                _replicator.Tell(Dsl.Get(Key, new ReadMajority(_c.WriteTimeout), SelfUp.Instance));
                break;
            case IGetResponse { Request: SelfUp } read:
                if (read is GetSuccess found) _state = _state.Merge(found.Get(Key));
                else if (read is not NotFound) _log.Warning("The desired state could not be read from a majority of the nodes ({Response}); following this node's copy", read.GetType().Name);
                _sent = false;
                Follow();
                break;
            case Changed changed when changed.Key.Equals(Key):
                _state = changed.Get(Key);
                Follow();
                break;
            case Applied applied:
                OnApplied(applied);
                break;
            case Retry:
                Follow();
                break;
            case SelfRemoved:
                _removed = $"this node was removed from the cluster at {DateTimeOffset.UtcNow:HH:mm:ss} (downed, or it left); it serves on with the last desired state it knew; restart or upgrade it to join again";
                // Leaving is part of every shutdown; only a removal of a node that runs on is news.
                if (CoordinatedShutdown.Get(Context.System).ShutdownReason is null)
                    _log.Warning("{Removed}", _removed);
                break;

            case ClusterListeners.ScaleListener scale:
                Scale(scale);
                break;
            case ClusterListeners.SetListener set:
                SetListener(set);
                break;
            case ClusterListeners.RemoveListener remove:
                Change(remove, remove.Listener, e => e with { Removed = true }, requireKnown: true);
                break;
            case Known known:
                OnKnown(known);
                break;
            case IUpdateResponse { Request: WriteRequest write } response:
                OnWriteResponse(write, response);
                break;
            case GetSuccess { Request: WriteRequest write } read:
                // Read-your-writes: this node's view (and its listeners) take the change before the writer hears back.
                _state = read.Get(Key);
                Follow();
                Reply(write, null);
                break;
            case IGetResponse { Request: WriteRequest write }:
                Reply(write, null);
                break;
            case ClusterListeners.WaitUntilFollowing when _followedOnce:
                Sender.Tell(new ClusterListeners.Following(_following));
                break;
            case ClusterListeners.WaitUntilFollowing:
                _followWaiters.Add(Sender);
                break;
            case ClusterListeners.GetDesiredState:
                Sender.Tell(new ClusterListeners.DesiredState(Desired()));
                break;
            case ClusterListeners.GetClusterStatus:
                ClusterStatus();
                break;
            case ClusterListeners.GetNodeStatus:
            {
                var following = _removed ?? _following;
                _coordinator.Ask<CoordinatorProtocol.NodeStatus>(CoordinatorProtocol.GetStatus.Instance, _c.StatusTimeout)
                    .PipeTo(Sender, success: node => new ClusterListeners.NodeStatusReply(node, following));
                break;
            }
            case ClusterListeners.RollingReload reload:
                StartRollingReload(reload);
                break;
            case RollingReloadActor.Finished finished:
                OnRollingReloadFinished(finished);
                break;
            case ClusterListeners.ReloadNode reload when _reloadingNode:
                Sender.Tell(new ClusterListeners.NodeReloadFailed("this node is in another rolling reload's turn (one started from another node)", []));
                break;
            case ClusterListeners.ReloadNode reload:
            {
                _reloadingNode = true;
                var self = Self;
                ReloadNodeAsync(reload, _coordinator, _c.ReloadStepTimeout).ContinueWith(t =>
                {
                    self.Tell(NodeReloadDone.Instance);
                    return t.Result;
                }, TaskScheduler.Default).PipeTo(Sender);
                break;
            }
            case NodeReloadDone:
                _reloadingNode = false;
                break;
            case Terminated terminated when terminated.ActorRef.Equals(_rollingReload):
                _rollingReload = null;
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private List<ClusterListener> Desired() => _state.Entries.Values.OrderBy(l => l.Name, StringComparer.Ordinal).ToList();

    // ---- Following the desired state -------------------------------------------------------------------------------

    /// <summary>Hands the desired state, resolved for this node, to the coordinator unless it has it already or is busy with the last one.</summary>
    private void Follow()
    {
        if (_applying)
        {
            _dirty = true;
            return;
        }
        var (overrides, problems) = Resolve();
        if (_sent && overrides.SequenceEqual(_applied))
        {
            _following = problems.Count == 0 ? InSync : string.Join("; ", problems);
            return;
        }
        _applying = true;
        _sent = true;
        _coordinator.Ask<object>(new CoordinatorProtocol.ApplyClusterState(overrides), _c.WriteTimeout + _settings.Control.RequestTimeout)
            .PipeTo(Self, success: answer => new Applied(overrides, problems, answer), failure: e => new Applied(overrides, problems, new Status.Failure(e)));
    }

    private void OnApplied(Applied applied)
    {
        _applying = false;
        string following;
        if (applied.Answer is CoordinatorProtocol.ClusterStateApplied done)
        {
            _applied = applied.Overrides;
            _followedOnce = true;
            var problems = applied.Problems.Concat(done.Problems).ToList();
            following = problems.Count == 0 ? InSync : $"not following: {string.Join("; ", problems)}";
            if (following != _following)
            {
                if (problems.Count == 0) _log.Info("Listeners follow the cluster's desired state");
                else _log.Warning("Listeners follow the cluster's desired state, except: {Problems}", string.Join("; ", problems));
            }
            if (done.Problems.Count > 0)
                RetryLater(force: true); // a port may be freed: try the listeners that failed again, ever less often
            else
                _retryDelay = _c.RetryInterval;
        }
        else
        {
            var reason = applied.Answer switch
            {
                CoordinatorProtocol.CommandFailed failed => failed.Reason,
                Status.Failure failure => failure.Cause.Message,
                var other => $"unexpected answer {other.GetType().Name}",
            };
            following = $"not following the desired state: {reason}";
            if (following != _following)
                _log.Warning("The node's listeners do not follow the cluster's desired state: {Reason}; trying again", reason);
            RetryLater(force: false);
        }
        _following = following;
        if (_followedOnce)
        {
            foreach (var waiter in _followWaiters) waiter.Tell(new ClusterListeners.Following(_following));
            _followWaiters.Clear();
        }
        if (_dirty)
        {
            _dirty = false;
            Follow();
        }
    }

    /// <summary>Tries again after the retry interval, doubled after each retry that did not help (up to 30 times it).</summary>
    private void RetryLater(bool force)
    {
        if (force) _sent = false; // send the same state again
        Timers.StartSingleTimer(nameof(Retry), Retry.Instance, _retryDelay);
        _retryDelay = TimeSpan.FromTicks(Math.Min(_retryDelay.Ticks * 2, _c.RetryInterval.Ticks * 30));
    }

    /// <summary>The desired state as it applies to this node, and the listeners it cannot follow (a definition its defaults reject).</summary>
    private (List<CoordinatorProtocol.ClusterOverride> Overrides, List<string> Problems) Resolve()
    {
        var roles = _cluster.SelfRoles.ToHashSet(StringComparer.Ordinal);
        var overrides = new List<CoordinatorProtocol.ClusterOverride>();
        var problems = new List<string>();
        foreach (var entry in Desired())
        {
            if (!entry.ServedBy(roles))
            {
                overrides.Add(new CoordinatorProtocol.ClusterOverride(entry.Name, false, null, null, entry.HandlerGeneration, entry.GenerationRaisedAt));
                continue;
            }
            ListenerSettings? definition = null;
            if (entry.Definition is not null)
            {
                try
                {
                    definition = ReadDefinition(entry.Name, entry.Definition);
                }
                catch (ShardRuntimeConfigurationException e)
                {
                    problems.Add($"listener '{entry.Name}': {e.Message}");
                    continue;
                }
            }
            overrides.Add(new CoordinatorProtocol.ClusterOverride(entry.Name, true, entry.ShardsFor(roles), definition, entry.HandlerGeneration, entry.GenerationRaisedAt));
        }
        return (overrides, problems);
    }

    private ListenerSettings ReadDefinition(string name, string hocon)
    {
        var path = $"cluster.listeners.{name}";
        if (HoconSyntax.FindError(hocon) is { } error)
            throw new ShardRuntimeConfigurationException(path, $"is not valid HOCON: {error}");
        Config block;
        try
        {
            block = ConfigurationFactory.ParseString(hocon);
        }
        catch (Exception e)
        {
            throw new ShardRuntimeConfigurationException(path, $"is not valid HOCON: {e.Message}");
        }
        // Code from the cluster: its handler-assembly must lie in this node's handler-directories (checked where it loads).
        return _settings.ReadListener(name, block, path) with { FromCluster = true };
    }

    // ---- Changing the desired state --------------------------------------------------------------------------------

    private void Scale(ClusterListeners.ScaleListener scale)
    {
        if (ListenerSettings.ShardCountRefusal(scale.Listener, scale.Shards) is { } badCount)
        {
            Sender.Tell(new ClusterListeners.CommandFailed(scale, badCount));
            return;
        }
        if (scale.Role is not null && string.IsNullOrWhiteSpace(scale.Role))
        {
            Sender.Tell(new ClusterListeners.CommandFailed(scale, "the role must not be empty"));
            return;
        }
        if (scale.Role is not null && !_cluster.State.Members.Any(m => m.Roles.Contains(scale.Role)))
        {
            var roles = _cluster.State.Members.SelectMany(m => m.Roles).Distinct().Order(StringComparer.Ordinal).ToList();
            Sender.Tell(new ClusterListeners.CommandFailed(scale,
                $"no node has role '{scale.Role}' (roles: {(roles.Count == 0 ? "none" : string.Join(", ", roles))}); nothing was written"));
            return;
        }
        Change(scale, scale.Listener, e => scale.Role is null
            ? e with { Shards = scale.Shards, ShardsByRole = e.ShardsByRole.Clear() }
            : e with { ShardsByRole = e.ShardsByRole.SetItem(scale.Role, scale.Shards) }, requireKnown: true, refuseRemoved: true);
    }

    private void SetListener(ClusterListeners.SetListener set)
    {
        string? problem = null;
        if (set.Shards is { } shards && ListenerSettings.ShardCountRefusal(set.Listener, shards) is { } badCount)
            problem = badCount;
        else if (set.Roles is not null && set.Roles.Any(string.IsNullOrWhiteSpace))
            problem = "a role must not be empty";
        else if (set.Definition is not null)
        {
            try
            {
                ReadDefinition(set.Listener, set.Definition);
            }
            catch (ShardRuntimeConfigurationException e)
            {
                problem = e.Message;
            }
        }
        if (problem is not null)
        {
            Sender.Tell(new ClusterListeners.CommandFailed(set, problem));
            return;
        }
        Change(set, set.Listener, e => e with
        {
            Definition = set.Definition ?? e.Definition,
            Shards = set.Shards ?? e.Shards,
            Roles = set.Roles is null ? e.Roles : e.Roles.Clear().Union(set.Roles),
            HandlerGeneration = e.HandlerGeneration + (set.Reload ? 1 : 0),
            GenerationRaisedAt = set.Reload ? DateTimeOffset.UtcNow : e.GenerationRaisedAt,
            Removed = false,
        }, requireKnown: set.Definition is null);
    }

    /// <summary>
    /// Writes a change of one listener: checks that the listener is known (this node's or the desired state's) when
    /// asked to, and that a majority of the nodes is reachable, then updates the replicated entry with
    /// <paramref name="change"/> applied to its current value.
    /// </summary>
    private void Change(ClusterListeners.ICommand command, string listener, Func<ClusterListener, ClusterListener> change, bool requireKnown, bool refuseRemoved = false)
    {
        try
        {
            ListenerSettings.ValidateName(listener, "listener");
        }
        catch (ShardRuntimeConfigurationException e)
        {
            Sender.Tell(new ClusterListeners.CommandFailed(command, e.Message));
            return;
        }
        if (refuseRemoved && _state.TryGetValue(listener, out var current) && current.Removed)
        {
            Sender.Tell(new ClusterListeners.CommandFailed(command, $"listener '{listener}' was removed cluster-wide; `listener set {listener}` brings it back"));
            return;
        }
        var write = new WriteRequest(command, Sender, listener, change);
        if (!requireKnown || _state.ContainsKey(listener))
        {
            Write(write);
            return;
        }
        // Known here? The coordinator's listeners (the file's, as last reloaded) say.
        _coordinator.Ask<CoordinatorProtocol.NodeStatus>(CoordinatorProtocol.GetStatus.Instance, _settings.Control.RequestTimeout)
            .PipeTo(Self, success: status => new Known(write, status.Listeners.Select(l => l.Name).ToList()), failure: e => new Known(write, null));
    }

    private void OnKnown(Known known)
    {
        var write = known.Write;
        if (known.Listeners is null)
        {
            write.ReplyTo.Tell(new ClusterListeners.CommandFailed(write.Command,
                $"this node's coordinator did not answer within {_settings.Control.RequestTimeout}, so '{write.Listener}' could not be checked; nothing was written"));
            return;
        }
        if (!known.Listeners.Contains(write.Listener) && !_state.ContainsKey(write.Listener))
        {
            var names = known.Listeners.Concat(_state.Keys).Distinct().Order(StringComparer.Ordinal);
            write.ReplyTo.Tell(new ClusterListeners.CommandFailed(write.Command,
                $"no listener named '{write.Listener}' on this node nor in the cluster's desired state (listeners: {string.Join(", ", names)}); " +
                "`listener set NAME --definition ...` defines one cluster-wide"));
            return;
        }
        Write(write);
    }

    private void Write(WriteRequest write)
    {
        if (_removed is not null)
        {
            write.ReplyTo.Tell(new ClusterListeners.CommandFailed(write.Command, $"nothing was written: {_removed}"));
            return;
        }
        var state = _cluster.State;
        var nodes = state.Members.Where(m => m.Status is MemberStatus.Up or MemberStatus.WeaklyUp or MemberStatus.Leaving).ToList();
        if (nodes.All(m => !m.Address.Equals(_cluster.SelfAddress)))
        {
            write.ReplyTo.Tell(new ClusterListeners.CommandFailed(write.Command,
                $"this node is not up in the cluster yet ({_cluster.SelfMember.Status}); nothing was written"));
            return;
        }
        var unreachable = nodes.Where(m => state.Unreachable.Contains(m)).Select(m => m.Address.ToString()).Order(StringComparer.Ordinal).ToList();
        var majority = nodes.Count / 2 + 1;
        if (nodes.Count - unreachable.Count < majority)
        {
            write.ReplyTo.Tell(new ClusterListeners.CommandFailed(write.Command,
                $"only {nodes.Count - unreachable.Count} of {nodes.Count} nodes are reachable (unreachable: {string.Join(", ", unreachable)}); " +
                $"a change must reach a majority ({majority}): nothing was written"));
            return;
        }
        write.Nodes = nodes.Count;
        write.All = unreachable.Count == 0;
        Send(write);
    }

    private void Send(WriteRequest write)
    {
        IWriteConsistency consistency = write.All ? new WriteAll(_c.WriteTimeout) : new WriteMajority(_c.WriteTimeout);
        var cluster = _cluster;
        var address = _cluster.SelfAddress.ToString();
        _replicator.Tell(Dsl.Update(Key, LWWDictionary<string, ClusterListener>.Empty, consistency, write, d =>
        {
            // A second write of the same change: this replica has it already; written as it is (a new timestamp could
            // overwrite a later change of another node that this replica has not merged yet).
            if (write.Spread) return d;
            var before = d.TryGetValue(write.Listener, out var existing) ? existing : ClusterListener.New(write.Listener);
            write.Result = write.Change(before) with { ChangedBy = address, ChangedAt = DateTimeOffset.UtcNow };
            return d.SetItem(cluster, write.Listener, write.Result);
        }));
    }

    private void OnWriteResponse(WriteRequest write, IUpdateResponse response)
    {
        if (response is UpdateTimeout && write.All)
        {
            // Not every node confirmed in time: a majority must, then. The change is in this node's replica already, so
            // the second write spreads it and does not make it again (a raised handler generation is raised once).
            write.All = false;
            write.Spread = true;
            Send(write);
            return;
        }
        var failure = response switch
        {
            UpdateSuccess => null,
            UpdateTimeout =>
                $"the change is stored on this node, but fewer than a majority of the {write.Nodes} nodes confirmed it within {_c.WriteTimeout}; " +
                "it spreads to the others when they are reachable (see `listener show` and `status --cluster`)",
            ModifyFailure modify => $"the change could not be made: {modify.Cause.Message}",
            var other => $"the change was not stored: {other}",
        };
        if (failure is null)
        {
            _log.Info("Cluster listener {Listener} changed ({Command}): {State}; stored by {StoredBy} of {Nodes} nodes",
                write.Listener, write.Command.GetType().Name, write.Result!.Describe(), write.All ? "all" : "a majority", write.Nodes);
            _replicator.Tell(Dsl.Get(Key, ReadLocal.Instance, write));
            return;
        }
        _log.Warning("Cluster listener {Listener} ({Command}): {Failure}", write.Listener, write.Command.GetType().Name, failure);
        Reply(write, failure);
    }

    private static void Reply(WriteRequest write, string? failure) =>
        write.ReplyTo.Tell(write.Done is { } done
            ? done(failure is null ? write.Result : null, failure)
            : failure is null
                ? new ClusterListeners.ListenerChanged(write.Result!, write.All ? "all" : "majority", write.Nodes)
                : new ClusterListeners.CommandFailed(write.Command, failure));

    // ---- Status ----------------------------------------------------------------------------------------------------

    private void ClusterStatus()
    {
        var state = _cluster.State;
        var timeout = _c.StatusTimeout;
        var asks = state.Members.OrderBy(m => m.Address.ToString(), StringComparer.Ordinal).Select(m =>
        {
            var roles = m.Roles.Order(StringComparer.Ordinal).ToList();
            var address = m.Address.ToString();
            var status = m.Status.ToString();
            if (state.Unreachable.Contains(m))
                return Task.FromResult(new ClusterListeners.MemberStatus(address, roles, status, false, null, null, "unreachable"));
            var selection = Context.ActorSelection(new RootActorPath(m.Address) / "user" / ClusterListeners.ActorName);
            return AskAsync(selection, timeout, address, roles, status);
        }).ToList();
        var reply = new ClusterListeners.ClusterStatus(_cluster.SelfAddress.ToString(), state.Leader?.ToString(), Desired(), [], _removed);
        Task.WhenAll(asks).PipeTo(Sender, success: members => reply with { Members = members });

        static async Task<ClusterListeners.MemberStatus> AskAsync(ActorSelection selection, TimeSpan timeout, string address, List<string> roles, string status)
        {
            try
            {
                var answer = await selection.Ask<ClusterListeners.NodeStatusReply>(ClusterListeners.GetNodeStatus.Instance, timeout).ConfigureAwait(false);
                return new ClusterListeners.MemberStatus(address, roles, status, true, answer.Node, answer.Following, null);
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
            {
                return new ClusterListeners.MemberStatus(address, roles, status, true, null, null, $"no answer within {timeout.TotalSeconds:0.###}s");
            }
        }
    }

    // ---- Rolling reload --------------------------------------------------------------------------------------------

    private void StartRollingReload(ClusterListeners.RollingReload reload)
    {
        string? refusal = null;
        var state = _cluster.State;
        var unreachable = state.Unreachable.Select(m => m.Address.ToString()).Order(StringComparer.Ordinal).ToList();
        if (_rollingReload is not null) refusal = "a rolling reload is in progress";
        else if (_removed is not null) refusal = _removed;
        else if (unreachable.Count > 0) refusal = $"node(s) {string.Join(", ", unreachable)} are unreachable; a rolling reload needs every node";
        else if (state.Members.Where(m => m.Status is MemberStatus.Joining or MemberStatus.WeaklyUp).Select(m => m.Address.ToString()).Order(StringComparer.Ordinal).ToList() is { Count: > 0 } joining)
            refusal = $"node(s) {string.Join(", ", joining)} are still joining; a rolling reload visits every node, so try again once they are up";
        if (refusal is not null)
        {
            Sender.Tell(new ClusterListeners.CommandFailed(reload, refusal));
            return;
        }
        if (reload.Listener is not null)
        {
            try
            {
                ListenerSettings.ValidateName(reload.Listener, "listener");
            }
            catch (ShardRuntimeConfigurationException e)
            {
                Sender.Tell(new ClusterListeners.CommandFailed(reload, e.Message));
                return;
            }
        }
        var nodes = state.Members.Where(m => m.Status is MemberStatus.Up or MemberStatus.WeaklyUp)
            .Select(m => m.Address).OrderBy(a => a.ToString(), StringComparer.Ordinal).ToList();
        int? generation = reload.Listener is null ? null
            : (_state.TryGetValue(reload.Listener, out var entry) ? entry.HandlerGeneration : 1) + 1;
        _log.Info("Rolling reload of {What} over {Count} nodes: {Nodes}", reload.Listener is null ? "every listener" : $"listener {reload.Listener}",
            nodes.Count, string.Join(", ", nodes));
        var (step, whole, replyTo) = (_c.ReloadStepTimeout, _c.ReloadTimeout, Sender);
        _rollingReload = Context.ActorOf(Akka.Actor.Props.Create(() => new RollingReloadActor(reload, nodes, generation, step, whole, replyTo)), "rolling-reload");
        Context.Watch(_rollingReload);
    }

    private void OnRollingReloadFinished(RollingReloadActor.Finished finished)
    {
        var report = finished.Report;
        _log.Info("Rolling reload {Outcome}: {Steps}", report.Completed ? "completed" : "stopped",
            string.Join("; ", report.Nodes.Select(n => $"{n.Address} {n.Outcome}{(n.Reason is null ? "" : $" ({n.Reason})")}")));
        if (!report.Completed || report.Listener is null || finished.Generation is not { } generation)
        {
            finished.ReplyTo.Tell(report);
            return;
        }
        // Every node runs the new generation: the desired state records it (a node that reloaded has it already).
        var command = new ClusterListeners.RollingReload(report.Listener);
        Write(new WriteRequest(command, finished.ReplyTo, report.Listener, e => e.HandlerGeneration >= generation ? e
            : e with { HandlerGeneration = generation, GenerationRaisedAt = DateTimeOffset.UtcNow })
        {
            Done = (stored, failure) => failure is null
                ? report
                : report with { Completed = false, Failure = $"every node reloaded, but the new handler generation {generation} was not recorded in the desired state: {failure}" },
        });
    }

    /// <summary>
    /// This node's turn in a rolling reload: reload, then wait (bounded by <paramref name="timeout"/>) until no older
    /// generation of a reloaded listener has an open connection.
    /// </summary>
    private static async Task<object> ReloadNodeAsync(ClusterListeners.ReloadNode reload, IActorRef coordinator, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        object answer;
        try
        {
            if (reload.Listener is { } only)
            {
                var before = await coordinator.Ask<CoordinatorProtocol.NodeStatus>(CoordinatorProtocol.GetStatus.Instance, timeout).ConfigureAwait(false);
                if (before.Listeners.All(l => l.Name != only))
                    return new ClusterListeners.NodeReloaded([], clock.Elapsed.TotalSeconds, Served: false);
            }
            answer = await coordinator.Ask<object>(new CoordinatorProtocol.Reload(reload.Listener, reload.Generation), timeout).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
        {
            return new ClusterListeners.NodeReloadFailed($"the coordinator did not answer the reload within {timeout}", []);
        }
        if (answer is CoordinatorProtocol.CommandFailed failed)
            return new ClusterListeners.NodeReloadFailed(failed.Reason, []);
        if (answer is not CoordinatorProtocol.Reloaded reloaded)
            return new ClusterListeners.NodeReloadFailed($"unexpected answer {answer.GetType().Name}", []);
        var names = reloaded.Listeners.Select(l => l.Listener).ToHashSet(StringComparer.Ordinal);
        while (true)
        {
            var left = timeout - clock.Elapsed;
            if (left <= TimeSpan.Zero)
                return new ClusterListeners.NodeReloadFailed($"the old handler generations still had open connections after {timeout}", reloaded.Listeners);
            CoordinatorProtocol.NodeStatus status;
            try
            {
                status = await coordinator.Ask<CoordinatorProtocol.NodeStatus>(CoordinatorProtocol.GetStatus.Instance, left).ConfigureAwait(false);
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
            {
                continue;
            }
            var draining = status.Listeners.Where(l => names.Contains(l.Name))
                .Sum(l => l.Generations.Where(g => !g.Current).Sum(g => g.OpenConnections));
            if (draining == 0)
                return new ClusterListeners.NodeReloaded(reloaded.Listeners, clock.Elapsed.TotalSeconds);
            await Task.Delay(TimeSpan.FromMilliseconds(100)).ConfigureAwait(false);
        }
    }

    // ---- Messages to self ------------------------------------------------------------------------------------------

    /// <summary>The coordinator's answer to <see cref="CoordinatorProtocol.ApplyClusterState"/> (piped to self).</summary>
    private sealed record Applied(IReadOnlyList<CoordinatorProtocol.ClusterOverride> Overrides, IReadOnlyList<string> Problems, object Answer);

    /// <summary>This node is Up in the cluster.</summary>
    private sealed class SelfUp
    {
        public static readonly SelfUp Instance = new();
        private SelfUp() { }
    }

    /// <summary>This node's turn in a rolling reload ended (piped to self).</summary>
    private sealed class NodeReloadDone
    {
        public static readonly NodeReloadDone Instance = new();
        private NodeReloadDone() { }
    }

    /// <summary>Timer: try again to hand the desired state to the coordinator.</summary>
    private sealed class Retry
    {
        public static readonly Retry Instance = new();
        private Retry() { }
    }

    /// <summary>This node left the cluster's membership (it was downed, or it left).</summary>
    private sealed class SelfRemoved
    {
        public static readonly SelfRemoved Instance = new();
        private SelfRemoved() { }
    }

    /// <summary>The listeners the coordinator has (null: it did not answer), for a change that names one (piped to self).</summary>
    private sealed record Known(WriteRequest Write, IReadOnlyList<string>? Listeners);

    /// <summary>One change on its way through the replicator: the request context of its Update, which comes back with the response.</summary>
    private sealed class WriteRequest(ClusterListeners.ICommand command, IActorRef replyTo, string listener, Func<ClusterListener, ClusterListener> change)
    {
        public ClusterListeners.ICommand Command { get; } = command;
        public IActorRef ReplyTo { get; } = replyTo;
        public string Listener { get; } = listener;
        public Func<ClusterListener, ClusterListener> Change { get; } = change;

        /// <summary>Set for the second write (majority after all timed out): spread the replica as it is.</summary>
        public bool Spread { get; set; }
        public int Nodes { get; set; }
        public bool All { get; set; }
        /// <summary>The entry as the replicator stored it (set inside the update).</summary>
        public ClusterListener? Result { get; set; }

        /// <summary>The reply for the outcome (the entry stored, or the failure); null: <see cref="ClusterListeners.ListenerChanged"/> or <see cref="ClusterListeners.CommandFailed"/>.</summary>
        public Func<ClusterListener?, string?, object>? Done { get; init; }
    }
}
