using System.Net;
using System.Net.Sockets;
using Akka.Event;
using ShardRuntime.Actors.Coordination.Reconciliation;
using ShardRuntime.Actors.Listeners;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Upgrade;
using ShardRuntime.Runtime.Loading;
using ShardRuntime.Runtime.Sockets;
using ShardRuntime.Runtime.Tls;

namespace ShardRuntime.Actors.Coordination;

/// <summary>
/// The executor of the coordinator's decisions: it shows the <see cref="Reconciler"/> the node as it is
/// (<see cref="Observe"/>) and carries out the plan it gets: every acquire step first (adopt, take handler code, bind;
/// on a failure what was taken is given back and nothing changes), then the commit steps in order.
/// </summary>
internal sealed partial class CoordinatorActor
{
    /// <summary>The node as the reconciler sees it.</summary>
    private ObservedNode Observe()
    {
        var listeners = _s.Listeners.Values.Concat(_s.Retired).Select(l => new ObservedListener(
            l.Id, l.Settings, l.BoundEndPoint, l.Desired,
            l.Shards.Values.Select(s => new ObservedShard(s.Key.ShardId, s.Inode, s.Retiring, s.Pinned)).ToList(),
            l.Retired, Steered: true, l.LoadedAt)).ToList();
        var reusePort = _s.Inherited.ToDictionary(i => i.Label.Inode, i => i.Socket);
        var inherited = InheritedGroup.Of(_s.Inherited.Select(i => i.Label), label => SocketOptionsNative.GetReusePort(reusePort[label.Inode]));
        return new ObservedNode(listeners, inherited, _s.NextShardId, _s.NextIncarnation, _s.PredecessorHolds, _s.Life.IsDraining);
    }

    /// <summary>Why a listener's built-in handler cannot serve it (unknown, or of the other kind), or null.</summary>
    private string? UnknownHandler(ListenerSettings listener) => _handlers.HandlerRefusal(listener);

    /// <summary>
    /// Makes the listeners match <paramref name="desired"/> (all or nothing). User handlers come from
    /// <paramref name="prepared"/> (loaded off this thread beforehand; what is not committed stays there for another try
    /// with the same object). Returns why it could not, or null.
    /// </summary>
    private string? Apply(IReadOnlyList<ListenerSettings> desired, PreparedHandlers prepared) =>
        Reconciler.Plan(desired, Observe(), UnknownHandler) switch
        {
            Decision.Refused refused => refused.Reason,
            Decision.Planned planned => Execute(planned.Plan, prepared),
            _ => throw new InvalidOperationException("unknown decision"),
        };

    /// <summary>What a plan's acquire steps took, per listener incarnation.</summary>
    private sealed class Acquired
    {
        public HandlerRegistry? Handlers;
        public TlsMaterial? Tls;
        public List<(Socket Socket, SocketLabel Label)> Adopted = [];
        public List<Socket> Bound = [];
    }

    /// <summary>Runs <paramref name="plan"/>: every acquire step, then (if all succeeded) every commit step. Returns why it failed, or null.</summary>
    private string? Execute(Plan plan, PreparedHandlers prepared)
    {
        var acquired = new Dictionary<ListenerId, Acquired>();
        if (Acquire(plan, prepared, acquired) is { } failure)
        {
            foreach (var taken in acquired.Values)
            {
                if (taken.Handlers is not null && !prepared.Holds(taken.Handlers)) taken.Handlers.Dispose();
                foreach (var socket in taken.Bound) socket.Dispose();
                // Adopted sockets stay inherited: another try, or the decline at the end of start-up, takes them.
            }
            return failure;
        }
        foreach (var step in plan.Commit) Commit(step, acquired, prepared);
        return null;
    }

    private string? Acquire(Plan plan, PreparedHandlers prepared, Dictionary<ListenerId, Acquired> acquired)
    {
        foreach (var step in plan.Acquire)
        {
            if (!acquired.TryGetValue(step.Listener, out var taken)) acquired[step.Listener] = taken = new Acquired();
            switch (step)
            {
                case AcquireStep.Adopt adopt:
                    taken.Adopted = adopt.Group.Sockets.Select(label => (_s.Inherited.Single(i => i.Label.Inode == label.Inode).Socket, label)).ToList();
                    SetBacklog(step.Listener.Name, adopt, taken.Adopted);
                    break;
                case AcquireStep.TakeHandlers take:
                    if (take.Settings.Tls is not null)
                    {
                        if (!prepared.Tls.TryGet(take.Settings, out var tls, out var tlsRefusal))
                            return $"listener '{take.Settings.Name}': {tlsRefusal}";
                        taken.Tls = tls;
                    }
                    if (take.Settings.HandlerAssembly is null)
                    {
                        taken.Handlers = BuiltInRegistry(take.Settings);
                        break;
                    }
                    if (!prepared.TryGetRegistry(take.Settings, out var registry, out var refusal))
                        return $"listener '{take.Settings.Name}': {refusal}";
                    if (registry!.Current.IsDatagram != take.Settings.IsDatagram)
                        return $"listener '{take.Settings.Name}': {ShardRuntimeSettings.Section}.listeners.{take.Settings.Name}.handler-type: " +
                               _handlers.KindMismatch(take.Settings, take.Settings.HandlerType!, registry.Current.IsDatagram);
                    taken.Handlers = registry;
                    break;
                case AcquireStep.Bind bind:
                    if (!TryBind(step.Listener.Name, bind, out var sockets, out var failure)) return failure;
                    taken.Bound = sockets;
                    break;
            }
        }
        return null;
    }

    /// <summary>
    /// The registry of a listener with a handler of the catalog: a connection handler's factory serves every generation;
    /// a datagram handler's is made for each (dns-static from the listener's zone).
    /// </summary>
    private HandlerRegistry BuiltInRegistry(ListenerSettings settings)
    {
        if (!settings.IsDatagram)
        {
            if (_handlers.TryGetStream(settings.Handler, out var stream)) return HandlerRegistry.ForFactory(settings.Name, stream);
            _handlers.TryGet(settings.Handler, out var factory);
            return HandlerRegistry.ForFactory(settings.Name, factory);
        }
        _handlers.TryGetDatagram(settings, out var datagrams);
        return HandlerRegistry.ForFactory(settings.Name, datagrams);
    }

    /// <summary>listen() again on adopted sockets only sets their backlog to the listener's.</summary>
    private void SetBacklog(string listener, AcquireStep.Adopt adopt, List<(Socket Socket, SocketLabel Label)> sockets)
    {
        if (adopt.Group.Protocol != TransportProtocol.Tcp) return;
        foreach (var (socket, label) in sockets)
        {
            try
            {
                socket.Listen(adopt.Backlog);
            }
            catch (SocketException e)
            {
                _log.Warning("Listener {Listener}: could not set backlog {Backlog} on inherited socket {Label}: {Error}", listener, adopt.Backlog, label, e.Message);
            }
        }
    }

    /// <summary>Binds a plan's sockets, all or none.</summary>
    private bool TryBind(string listener, AcquireStep.Bind bind, out List<Socket> sockets, out string failure)
    {
        sockets = new List<Socket>(bind.Count);
        failure = "";
        var endPoint = bind.EndPoint;
        try
        {
            for (var i = 0; i < bind.Count; i++)
            {
                var socket = _socketFactory.Bind(new ListenerSocketOptions(endPoint, bind.Protocol, bind.Backlog));
                sockets.Add(socket);
                // Port 0: the first socket got an ephemeral port; the others join it there.
                endPoint = (IPEndPoint)socket.LocalEndPoint!;
            }
            return true;
        }
        catch (ListenerBindException e)
        {
            _log.Error("Listener {Listener}: {Reason}", listener, e.Message);
            failure = $"listener '{listener}': {e.Message}";
        }
        foreach (var socket in sockets) socket.Dispose();
        sockets.Clear();
        return false;
    }

    private void Commit(CommitStep step, Dictionary<ListenerId, Acquired> acquired, PreparedHandlers prepared)
    {
        switch (step)
        {
            case CommitStep.StartListener start:
                StartListener(start, acquired[start.Listener], prepared);
                break;
            case CommitStep.SetDesired desired:
                ListenerOf(desired.Listener).Desired = desired.Shards;
                break;
            case CommitStep.StartShards shards:
                StartShards(ListenerOf(shards.Listener), shards.Shards, acquired[shards.Listener]);
                break;
            case CommitStep.RetireShards retire:
                var listener = ListenerOf(retire.Listener);
                var retiring = retire.ShardIds.Select(id => listener.Shards[id]).ToList();
                RetireInGroups(retiring, RetireMode.DrainQueue, listener.Settings.DrainTimeout);
                break;
            case CommitStep.RetireListener gone:
                RetireListener(ListenerOf(gone.Listener), gone.ShardIds);
                break;
            case CommitStep.Steer steer:
                TellGroups(Group.Steer.Instance, ListenerOf(steer.Listener).Shards.Values);
                break;
            case CommitStep.ReloadHandlers:
                throw new InvalidOperationException("handler reloads are run by ReloadHandlers, with the code loaded for them");
        }
    }

    /// <summary>The listener incarnation <paramref name="id"/> (current or retired).</summary>
    private ListenerState ListenerOf(ListenerId id) => _s.Listeners.Values.Concat(_s.Retired).Single(l => l.Id == id);

    private void StartListener(CommitStep.StartListener start, Acquired taken, PreparedHandlers prepared)
    {
        var handlers = taken.Handlers ?? throw new InvalidOperationException($"no handlers were taken for {start.Listener}");
        prepared.Claim(handlers);
        var tls = taken.Tls is null ? null : new TlsServer(start.Settings.Name, taken.Tls);
        var listener = new ListenerState(start.Settings, handlers, start.Listener.Incarnation,
            tls is null ? _handlers.StreamLayerFor(start.Settings) : new TlsLayer(tls, _log), tls);
        if (taken.Tls is not null) LogTlsLoaded(listener.Name, taken.Tls, "is loaded");
        _s.NextIncarnation[start.Listener.Name] = Math.Max(_s.NextIncarnation.GetValueOrDefault(start.Listener.Name, 1), start.Listener.Incarnation + 1);
        if (_s.Listeners.Remove(start.Listener.Name, out var replaced))
        {
            // The new incarnation's sockets join the old one's group before the old one retires (a later step).
            _log.Info("Listener {Listener} changed; new sockets replace its {Shards} shards", replaced.Name, replaced.ActiveCount);
            replaced.Retired = true;
            _s.Retired.Add(replaced);
        }
        _s.Listeners[start.Listener.Name] = listener;
        if (taken.Adopted.Count > 0)
        {
            _s.Inherited.RemoveAll(i => taken.Adopted.Any(a => ReferenceEquals(a.Socket, i.Socket)));
            _s.Adopted.AddRange(taken.Adopted.Select(a => a.Label.Inode));
            if (taken.Adopted.Count > 1 && taken.Adopted.Any(a => a.Label.Position < 0))
                _log.Warning("Listener {Listener}: the inherited sockets on {EndPoint} carry no group positions; steering assumes their order", listener.Name, taken.Adopted[0].Label.EndPoint);
            _log.Info("Listener {Listener} adopts {Count} inherited sockets on {EndPoint} (inodes {Inodes}) instead of binding",
                listener.Name, taken.Adopted.Count, taken.Adopted[0].Label.EndPoint, string.Join(", ", taken.Adopted.Select(a => a.Label.Inode)));
            if (taken.Adopted.Count > start.Settings.EffectiveShards)
                _log.Info("Listener {Listener} inherited {Adopted} sockets but is configured for {Shards}; retiring the rest{When}",
                    listener.Name, taken.Adopted.Count, start.Settings.EffectiveShards, _s.PredecessorHolds ? " once the predecessor released them" : "");
        }
    }

    /// <summary>A listener no longer wanted under its name: it is retired, and <paramref name="shardIds"/> retire (all of its accepting ones when null).</summary>
    private void RetireListener(ListenerState listener, IReadOnlyList<int>? shardIds = null)
    {
        if (!listener.Retired)
        {
            _log.Info("Listener {Listener} is no longer configured; retiring it", listener.Name);
            listener.Retired = true;
        }
        if (_s.Listeners.TryGetValue(listener.Name, out var current) && ReferenceEquals(current, listener))
            _s.Listeners.Remove(listener.Name);
        var retiring = shardIds is null
            ? listener.Shards.Values.Where(s => !s.Retiring && (!s.Pinned || _s.Life.IsDraining)).ToList()
            : shardIds.Select(id => listener.Shards[id]).ToList();
        RetireInGroups(retiring, RetireMode.DrainQueue, listener.Settings.DrainTimeout);
        if (listener.Shards.Count > 0)
        {
            if (!_s.Retired.Contains(listener)) _s.Retired.Add(listener);
        }
        else
        {
            _s.Retired.Remove(listener);
            listener.Handlers.Dispose();
        }
    }
}
