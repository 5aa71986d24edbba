using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using ShardRuntime.Actors.Listeners;
using ShardRuntime.Actors.Upgrade;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Upgrade;
using ShardRuntime.Runtime.Sockets;

namespace ShardRuntime.Actors.Coordination;

/// <summary>
/// The coordinator's side of the sockets: the sockets a plan bound or adopted go to the actor of their reuseport group,
/// which owns them from then on; the coordinator decides which shards retire and how, and follows what the groups
/// report (a socket closed, a shard stopped).
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
    /// Hands each new shard's socket (adopted by inode, else the next one its bind made) to its reuseport group's actor
    /// (made on first use), in the order they joined the kernel's group, with a shard to accept on it.
    /// </summary>
    private void StartShards(ListenerState listener, IReadOnlyList<Reconciliation.NewShard> shards, Acquired taken)
    {
        if (shards.Count == 0) return;
        var joining = new List<Group.JoiningShard>();
        IActorRef? group = null;
        var bound = new Queue<Socket>(taken.Bound);
        foreach (var newShard in shards)
        {
            var socket = newShard.Adopted is { } label ? taken.Adopted.Single(a => a.Label.Inode == label.Inode).Socket : bound.Dequeue();
            var key = new ShardKey(listener.Name, newShard.ShardId);
            _s.NextShardId[listener.Name] = Math.Max(_s.NextShardId.GetValueOrDefault(listener.Name), newShard.ShardId + 1);
            var endPoint = (IPEndPoint)socket.LocalEndPoint!;
            listener.BoundEndPoint ??= endPoint;
            group ??= GroupFor(endPoint, listener.Settings.Protocol);
            var shard = new ShardState(key, KernelSocketTable.GetInode(socket), endPoint, group, newShard.Pinned);
            listener.Shards[key.ShardId] = shard;
            _s.Shards[key] = (listener, shard);
            joining.Add(new Group.JoiningShard(socket, key, listener.Shared, shard.Counters, newShard.Pinned));
        }
        group!.Tell(new Group.Join(joining));
    }

    /// <summary>The actor of the reuseport group on <paramref name="endPoint"/>, made when the endpoint has none.</summary>
    private IActorRef GroupFor(IPEndPoint endPoint, TransportProtocol protocol)
    {
        var key = Coordinator.Describe(endPoint, protocol);
        if (_s.Groups.TryGetValue(key, out var group)) return group;
        var state = new GroupState(endPoint, protocol, steeringAllowed: !_s.PredecessorHolds);
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

    private void OnPredecessorLetGo()
    {
        if (!_s.PredecessorHolds) return;
        _s.PredecessorHolds = false;
        // The groups are this node's to steer now; what waited for the predecessor to let go retires: the same desired
        // state, planned again without the deferral.
        TellGroups(Group.Steer.Instance);
        using var none = PreparedHandlers.None;
        if (Apply(Reconciliation.Reconciler.Effective(_s.Configured, _s.ClusterOverrides), none) is { } failure)
            _log.Error("After the take-over, the desired state could not be applied: {Reason}", failure);
    }


    /// <summary>A group closed this process's copy of a shard's socket.</summary>
    private void OnSocketClosed(ShardKey key)
    {
        if (!_s.Shards.TryGetValue(key, out var entry)) return;
        entry.Shard.SocketClosed = true;
        CheckLetGo(); // let go: once this process's last copy is closed, the successor hears it let go
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
        if (_s.Life.IsDraining) CheckDrained();
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
        if (!_s.Life.IsDraining)
        {
            // Who waits for the inherited sockets' adoption hears it now: the node will serve nothing more.
            if (_s.Life is NodeLife.AwaitingClusterState awaiting) SettleAdoption(awaiting, _s.Life);
            Enter(new NodeLife.Draining(DrainCause.Shutdown));
            _log.Info("Draining: every listener stops accepting; open connections have {Timeout} to finish", drain.Timeout);
            // A successor being served gets an Abort: it withdraws, and the sockets close with this node.
            UpgradeActor?.Tell(new Predecessor.Abort("the node is shutting down"));
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
        if (NodeLife.WhenDrained(_s.Life) is NodeLife.Stopping stopping && _s.Life is not NodeLife.Stopping)
        {
            // Its successor (or, for a successor that withdrew, its predecessor) serves the sockets now: the node's work is done.
            Enter(stopping);
            _log.Info("Let go of its sockets and drained: node {ProcessId} stops", Environment.ProcessId);
            CoordinatedShutdown.Get(Context.System).Run(SuccessorServesReason.Instance);
        }
    }
}
