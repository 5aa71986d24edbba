using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using ShardRuntime.Actors.Handlers;
using ShardRuntime.Actors.Listener;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Connections;
using ShardRuntime.Runtime.Sockets;
using ListenerProtocol = ShardRuntime.Actors.Listener.Listener;

namespace ShardRuntime.Actors.Coordinator;

/// <summary>
/// The one owner of every state change on the node: holds the desired state of each named listener and makes
/// reality match it, binding sockets and starting or retiring shard actors. Shards it supervises are restarted
/// on the same socket; sockets live in its registry so a crash of a shard closes none.
/// </summary>
internal sealed class CoordinatorActor : UntypedActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly HandlerCatalog _handlers;
    private readonly IListenerSocketFactory _socketFactory;
    private readonly Dictionary<string, ListenerState> _listeners = new(StringComparer.Ordinal);
    private readonly Dictionary<IActorRef, (ListenerState Listener, ShardState Shard)> _byActor = new();
    private readonly DateTimeOffset _startedAt = DateTimeOffset.UtcNow;
    private readonly IReadOnlyList<ListenerSettings> _initial;
    private string? _startFailure;
    private bool _draining;
    private IActorRef? _drainRequester;

    public CoordinatorActor(ShardRuntimeSettings settings, HandlerCatalog handlers, IListenerSocketFactory socketFactory)
    {
        _initial = settings.Listeners;
        _handlers = handlers;
        _socketFactory = socketFactory;
    }

    protected override SupervisorStrategy SupervisorStrategy() =>
        // A shard that throws is restarted: its socket and its connections are untouched (see ListenerShardActor).
        new OneForOneStrategy(maxNrOfRetries: 10, withinTimeRange: TimeSpan.FromMinutes(1), _ => Directive.Restart);

    protected override void PreStart()
    {
        var failure = Apply(_initial);
        if (failure is not null)
        {
            _startFailure = failure;
            _log.Error("Start-up failed: {Reason}", failure);
        }
    }

    protected override void PostStop()
    {
        // The node is going away: release every socket the shards did not close themselves.
        foreach (var shard in _listeners.Values.SelectMany(l => l.Shards.Values))
            shard.Socket.Dispose();
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Coordinator.WaitUntilStarted cmd:
                Sender.Tell(_startFailure is null ? Coordinator.Started.Instance : new Coordinator.CommandFailed(cmd, _startFailure));
                break;
            case Coordinator.ScaleTo scale:
                Sender.Tell(Scale(scale));
                break;
            case Coordinator.ApplySettings apply:
            {
                if (_draining)
                {
                    Sender.Tell(new Coordinator.CommandFailed(apply, "the node is draining for shutdown"));
                    break;
                }
                var failure = Apply(apply.Listeners);
                Sender.Tell(failure is null ? Coordinator.SettingsApplied.Instance : new Coordinator.CommandFailed(apply, failure));
                break;
            }
            case Coordinator.GetStatus:
                Sender.Tell(Status());
                break;
            case Coordinator.Drain drain:
                BeginDrain(drain);
                break;
            case Terminated terminated:
                OnShardTerminated(terminated.ActorRef);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private object Scale(Coordinator.ScaleTo scale)
    {
        if (_draining)
            return new Coordinator.CommandFailed(scale, "the node is draining for shutdown");
        if (!_listeners.TryGetValue(scale.Listener, out var listener) || listener.Removed)
            return new Coordinator.CommandFailed(scale, $"no listener named '{scale.Listener}' (listeners: {string.Join(", ", _listeners.Keys.Order())})");
        if (scale.Shards < 1 || scale.Shards > ListenerSettings.MaxShards)
            return new Coordinator.CommandFailed(scale, $"shard count must be between 1 and {ListenerSettings.MaxShards}, got {scale.Shards}");

        var failure = Reconcile(listener, scale.Shards);
        if (failure is not null) return new Coordinator.CommandFailed(scale, failure);
        listener.Desired = scale.Shards;
        _log.Info("Listener {Listener} scaled to {Shards} shards", listener.Name, scale.Shards);
        return new Coordinator.ScaledTo(listener.Name, listener.ActiveCount, listener.Shards.Values.Count(s => s.Retiring));
    }

    /// <summary>Makes the listeners match <paramref name="desired"/>. Returns why it could not, or null.</summary>
    private string? Apply(IReadOnlyList<ListenerSettings> desired)
    {
        foreach (var settings in desired)
        {
            if (!_handlers.TryGet(settings.Handler, out _))
                return $"listener '{settings.Name}': {_handlers.UnknownHandlerReason(settings.Handler)}";
        }

        var wanted = desired.ToDictionary(l => l.Name, StringComparer.Ordinal);
        foreach (var listener in _listeners.Values.Where(l => !l.Removed && !wanted.ContainsKey(l.Name)).ToList())
        {
            _log.Info("Listener {Listener} is no longer configured; retiring it", listener.Name);
            listener.Removed = true;
            Reconcile(listener, 0);
        }

        foreach (var settings in desired)
        {
            if (_listeners.TryGetValue(settings.Name, out var existing) && !existing.Removed)
            {
                if (!SameSocket(existing.Settings, settings))
                {
                    // A different endpoint or backlog is a different set of sockets: retire the old ones.
                    existing.Removed = true;
                    Reconcile(existing, 0);
                }
                else
                {
                    existing.Settings = settings;
                    existing.Desired = settings.EffectiveShards;
                    var failure = Reconcile(existing, existing.Desired);
                    if (failure is not null) return failure;
                    continue;
                }
            }

            _handlers.TryGet(settings.Handler, out var handler);
            var listener = new ListenerState(settings, handler, new ConnectionBudget(settings.MaxConnections));
            if (_listeners.TryGetValue(settings.Name, out var old))
                listener.InheritRetiring(old);
            _listeners[settings.Name] = listener;
            var bindFailure = Reconcile(listener, settings.EffectiveShards);
            if (bindFailure is not null) return bindFailure;
        }
        return null;
    }

    private static bool SameSocket(ListenerSettings a, ListenerSettings b) =>
        a.EndPoint.Equals(b.EndPoint) && a.Protocol == b.Protocol && a.Backlog == b.Backlog;

    /// <summary>Binds or retires shards until <paramref name="listener"/> has <paramref name="count"/> accepting ones.</summary>
    private string? Reconcile(ListenerState listener, int count)
    {
        while (listener.ActiveCount < count)
        {
            Socket socket;
            var endPoint = listener.BoundEndPoint ?? listener.Settings.EndPoint;
            try
            {
                socket = _socketFactory.Bind(new ListenerSocketOptions(endPoint, listener.Settings.Protocol, listener.Settings.Backlog));
            }
            catch (ListenerBindException e)
            {
                _log.Error("Listener {Listener}: {Reason}", listener.Name, e.Message);
                return $"listener '{listener.Name}': {e.Message}";
            }
            listener.BoundEndPoint ??= (IPEndPoint)socket.LocalEndPoint!;
            StartShard(listener, new ShardState(new ShardSocket(socket, listener.NextShardId++), new ShardCounters()));
        }

        foreach (var shard in listener.Shards.Values.Where(s => !s.Retiring).OrderByDescending(s => s.Socket.ShardId)
                     .Take(Math.Max(0, listener.ActiveCount - count)).ToList())
        {
            shard.Retiring = true;
            shard.Actor.Tell(new ListenerProtocol.Retire(listener.Settings.DrainTimeout));
        }
        return null;
    }

    private void StartShard(ListenerState listener, ShardState shard)
    {
        var actor = Context.ActorOf(
            ListenerProtocol.Props(listener.Settings, shard.Socket, listener.Handler, listener.Budget, shard.Counters),
            ListenerProtocol.ActorName(listener.Name, shard.Socket.ShardId));
        Context.Watch(actor);
        shard.Actor = actor;
        listener.Shards[shard.Socket.ShardId] = shard;
        _byActor[actor] = (listener, shard);
    }

    private void OnShardTerminated(IActorRef actor)
    {
        if (!_byActor.Remove(actor, out var entry)) return;
        var (listener, shard) = entry;
        if (shard.Retiring || _draining)
        {
            shard.Socket.Dispose();
            listener.Shards.Remove(shard.Socket.ShardId);
            if (listener.Removed && listener.Shards.Count == 0 && _listeners.TryGetValue(listener.Name, out var current) && ReferenceEquals(current, listener))
                _listeners.Remove(listener.Name);
            if (_draining) CheckDrained();
            return;
        }
        // An accepting shard stopped after exhausting its restarts: start a fresh actor on the very same socket.
        _log.Warning("Shard {Listener}/{Shard} stopped unexpectedly; starting it again on the same socket", listener.Name, shard.Socket.ShardId);
        StartShard(listener, shard);
    }

    private void BeginDrain(Coordinator.Drain drain)
    {
        if (_draining)
        {
            Sender.Tell(new Coordinator.CommandFailed(drain, "a drain is already in progress"));
            return;
        }
        _draining = true;
        _drainRequester = Sender;
        _log.Info("Draining: every listener stops accepting; open connections have {Timeout} to finish", drain.Timeout);
        foreach (var listener in _listeners.Values)
        {
            foreach (var shard in listener.Shards.Values)
            {
                shard.Retiring = true;
                shard.Actor.Tell(new ListenerProtocol.Retire(drain.Timeout));
            }
        }
        CheckDrained();
    }

    private void CheckDrained()
    {
        if (_drainRequester is null || _byActor.Count > 0) return;
        _log.Info("Drained: no listener accepts and no connection is open");
        _drainRequester.Tell(Coordinator.Drained.Instance);
        _drainRequester = null;
    }

    private Coordinator.NodeStatus Status() =>
        new(Environment.ProcessId, _startedAt, _draining, _listeners.Values.OrderBy(l => l.Name, StringComparer.Ordinal).Select(l =>
        {
            var shards = l.Shards.Values.OrderBy(s => s.Socket.ShardId).Select(s => new Coordinator.ShardStatus(
                s.Socket.ShardId,
                s.Retiring ? "retiring" : "accepting",
                s.Socket.Inode,
                s.Counters.Accepted,
                s.Counters.Open,
                s.Counters.BytesReceived,
                s.Counters.BytesSent)).ToList();
            return new Coordinator.ListenerStatus(
                l.Name,
                (l.BoundEndPoint ?? l.Settings.EndPoint).ToString(),
                l.Settings.Protocol.ToString().ToLowerInvariant(),
                l.Settings.Handler,
                l.Removed ? 0 : l.Desired,
                l.Settings.MaxConnections,
                shards.Sum(s => s.Accepted),
                shards.Sum(s => s.OpenConnections),
                shards);
        }).ToList());

    private sealed class ListenerState(ListenerSettings settings, IConnectionHandlerFactory handler, ConnectionBudget budget)
    {
        public string Name => Settings.Name;
        public ListenerSettings Settings { get; set; } = settings;
        public IConnectionHandlerFactory Handler { get; } = handler;
        public ConnectionBudget Budget { get; } = budget;
        public int Desired { get; set; } = settings.EffectiveShards;
        public bool Removed { get; set; }
        public IPEndPoint? BoundEndPoint { get; set; }
        public int NextShardId { get; set; }
        public Dictionary<int, ShardState> Shards { get; } = new();
        public int ActiveCount => Shards.Values.Count(s => !s.Retiring);

        /// <summary>A listener re-declared on another endpoint keeps its old shards' ids apart from the new ones.</summary>
        public void InheritRetiring(ListenerState old) => NextShardId = old.NextShardId;
    }

    private sealed class ShardState(ShardSocket socket, ShardCounters counters)
    {
        public ShardSocket Socket { get; } = socket;
        public ShardCounters Counters { get; } = counters;
        public IActorRef Actor { get; set; } = ActorRefs.Nobody;
        public bool Retiring { get; set; }
    }
}
