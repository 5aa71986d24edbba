using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using ShardRuntime.Actors.Listener;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Handover;
using ShardRuntime.Runtime.Sockets;

namespace ShardRuntime.Actors.Coordinator;

/// <summary>
/// The coordinator's side of the sockets: it binds (or adopts) them and hands them to the actor of their reuseport group,
/// which owns them from then on; it decides which shards retire and how, and follows what the groups report (a socket
/// closed, a shard stopped).
/// </summary>
internal sealed partial class CoordinatorActor
{
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
    private List<(Socket Socket, HandoverSocketLabel Label)> Adopt(ListenerSettings settings)
    {
        if (_s.Inherited.Count == 0) return [];
        bool Matches(HandoverSocketLabel l) =>
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

    /// <summary>
    /// Hands each socket to its reuseport group's actor (made on first use), in the order they joined the kernel's group,
    /// with a shard to accept on it; an adopted socket keeps its shard id when free.
    /// </summary>
    private void StartShards(ListenerState listener, List<(Socket Socket, int? ShardId, bool Pinned)> sockets)
    {
        if (sockets.Count == 0) return;
        var joining = new List<Group.JoiningShard>();
        IActorRef? group = null;
        foreach (var (socket, preferredId, pinned) in sockets)
        {
            var key = new ShardKey(listener.Name, _s.TakeShardId(listener.Name, preferredId, listener.Shards.Keys));
            var endPoint = (IPEndPoint)socket.LocalEndPoint!;
            listener.BoundEndPoint ??= endPoint;
            group ??= GroupFor(endPoint, listener.Settings.Protocol);
            var shard = new ShardState(key, KernelSocketTable.GetInode(socket), endPoint, group, pinned);
            listener.Shards[key.ShardId] = shard;
            _s.Shards[key] = (listener, shard);
            joining.Add(new Group.JoiningShard(socket, key, listener.Shared, shard.Counters, pinned));
        }
        group!.Tell(new Group.Join(joining));
    }

    /// <summary>The actor of the reuseport group on <paramref name="endPoint"/>, made when the endpoint has none.</summary>
    private IActorRef GroupFor(IPEndPoint endPoint, TransportProtocol protocol)
    {
        var key = Coordinator.Describe(endPoint, protocol);
        if (_s.Groups.TryGetValue(key, out var group)) return group;
        var state = new GroupState(endPoint, protocol, steeringAllowed: !_s.TakingOver);
        group = Context.ActorOf(Group.Props(state, _settings), Group.ActorName(++_s.LastGroupId));
        Context.Watch(group);
        _s.Groups[key] = group;
        return group;
    }

    /// <summary>Tells every group (or those of <paramref name="shards"/>) <paramref name="message"/>.</summary>
    private void TellGroups(object message, IEnumerable<ShardState>? shards = null)
    {
        foreach (var group in shards is null ? _s.Groups.Values : shards.Select(s => s.Group).Distinct()) group.Tell(message);
    }

    /// <summary>Tells each group of <paramref name="shards"/> to retire its ones as <paramref name="mode"/> says.</summary>
    private static void RetireInGroups(IEnumerable<ShardState> shards, RetireMode mode, TimeSpan drainTimeout)
    {
        foreach (var byGroup in shards.GroupBy(s => s.Group))
        {
            foreach (var shard in byGroup) shard.Retiring = true;
            byGroup.Key.Tell(new Group.Retire(byGroup.Select(s => s.Key).ToList(), mode, drainTimeout));
        }
    }

    private void CompleteTakeover()
    {
        if (!_s.TakingOver) return;
        _s.TakingOver = false;
        // The groups are this node's to steer now; what waited for the predecessor to let go retires.
        TellGroups(Group.Steer.Instance);
        foreach (var listener in _s.RetireAfterTakeover)
            RetireShards(listener, listener.Retired ? listener.ActiveCount : listener.ActiveCount - listener.Desired);
        _s.RetireAfterTakeover.Clear();
    }

    /// <summary>
    /// Retires the <paramref name="count"/> accepting shards with the highest ids. Their group steers new connections
    /// away from them while other sockets of the port accept; every retiring shard drains its accept queue before its
    /// socket closes (the last sockets of a removed listener serve until quiet).
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
        var retiring = listener.Shards.Values.Where(s => !s.Retiring && (!s.Pinned || _s.Draining))
            .OrderByDescending(s => s.Key.ShardId).Take(Math.Max(0, count)).ToList();
        RetireInGroups(retiring, RetireMode.DrainQueue, listener.Settings.DrainTimeout);
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

    /// <summary>A group closed this process's copy of a shard's socket.</summary>
    private void OnSocketClosed(ShardKey key)
    {
        if (!_s.Shards.TryGetValue(key, out var entry)) return;
        entry.Shard.SocketClosed = true;
        CheckLetGo(); // handed over: once this process's last copy is closed, the successor hears it let go
    }

    /// <summary>A shard stopped for good: forget it, and its listener and group once nothing of them is left.</summary>
    private void OnShardStopped(ShardKey key)
    {
        if (!_s.Shards.Remove(key, out var entry)) return;
        var (listener, shard) = entry;
        shard.SocketClosed = true;
        listener.Shards.Remove(key.ShardId);
        if (!shard.Retiring)
            _log.Error("Shard {Shard} stopped without being retired: its socket could not be served", key);
        if (listener.Retired && listener.Shards.Count == 0)
        {
            _s.Retired.Remove(listener);
            listener.Handlers.Dispose(); // no shard can acquire any more; generations unload as connections end
        }
        if (!_s.Shards.Values.Any(e => e.Shard.Group.Equals(shard.Group)))
        {
            // Nothing of the group is left: its actor goes (a later bind on the endpoint makes a new one).
            foreach (var (groupKey, group) in _s.Groups.Where(g => g.Value.Equals(shard.Group)).ToList()) _s.Groups.Remove(groupKey);
            Context.Unwatch(shard.Group);
            Context.Stop(shard.Group);
        }
        CheckLetGo();
        if (_s.Draining) CheckDrained();
    }

    /// <summary>A group actor stopped on its own (it exhausted its restarts): its sockets are closed, its shards gone.</summary>
    private void OnGroupTerminated(IActorRef group)
    {
        foreach (var (groupKey, _) in _s.Groups.Where(g => g.Value.Equals(group)).ToList()) _s.Groups.Remove(groupKey);
        var lost = _s.Shards.Where(e => e.Value.Shard.Group.Equals(group)).Select(e => e.Key).ToList();
        if (lost.Count == 0) return;
        _log.Error("The group actor {Group} stopped; its shards {Shards} are gone", group.Path.Name, string.Join(", ", lost));
        foreach (var key in lost)
        {
            _s.Shards[key].Shard.Retiring = true;
            OnShardStopped(key);
        }
    }

    private void BeginDrain(Coordinator.Drain drain)
    {
        _s.DrainRequesters.Add(Sender);
        if (!_s.Draining)
        {
            _s.Draining = true;
            _log.Info("Draining: every listener stops accepting; open connections have {Timeout} to finish", drain.Timeout);
            // A successor being served gets an Abort: it stands down, and the sockets close with this node.
            HandoffActor?.Tell(new Handoff.Handoff.Abort("the node is shutting down"));
        }
        // Every shard retires, its socket closing now (again, for those already retiring: a nearer deadline wins).
        RetireInGroups(_s.Shards.Values.Select(e => e.Shard).ToList(), RetireMode.CloseNow, drain.Timeout);
        CheckDrained();
    }


    private void CheckDrained()
    {
        if (_s.Shards.Count > 0) return;
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
}
