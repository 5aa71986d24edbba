using System.Net;
using ShardRuntime.Actors.Coordination.Reconciliation;
using ShardRuntime.Actors.Settings;

namespace ShardRuntime.Actors.Tests.Coordinator;

/// <summary>
/// A simple executor of <see cref="Plan"/>s on an <see cref="ObservedNode"/>, for the reconciler's specs: acquire steps
/// first (a bind may be made to fail; then nothing changes), then commit steps one by one. It checks every step against
/// the node it runs on (a shard started twice, a retirement of a shard that does not accept or is pinned, a step for an
/// unknown listener) and throws <see cref="InvalidPlanException"/> on the first that does not fit.
/// </summary>
internal sealed class ReconcilerModel(ObservedNode node)
{
    private int _nextInode = 1000;
    private int _nextPort = 40000;

    /// <summary>The node as the executed plans left it.</summary>
    public ObservedNode Node { get; private set; } = node;

    /// <summary>Every shard id each listener name has been given, to check none is given twice.</summary>
    public Dictionary<string, HashSet<int>> Issued { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Runs <paramref name="plan"/>. <paramref name="bindFails"/>: which binds fail (none by default); a failed acquire leaves
    /// the node as it was and returns false. <paramref name="afterStep"/> sees the node after each commit step.
    /// </summary>
    public bool Execute(Plan plan, Func<AcquireStep.Bind, bool>? bindFails = null, Action<CommitStep, ObservedNode>? afterStep = null)
    {
        var bound = new Dictionary<ListenerId, Queue<(long Inode, IPEndPoint EndPoint)>>();
        var inherited = Node.Inherited.ToList();
        var port = _nextPort;
        var inode = _nextInode;
        foreach (var step in plan.Acquire)
        {
            switch (step)
            {
                case AcquireStep.Adopt adopt:
                    if (!inherited.Remove(adopt.Group)) throw new InvalidPlanException($"{step}: the group is not inherited (any more)");
                    break;
                case AcquireStep.TakeHandlers:
                    break;
                case AcquireStep.Bind bind:
                    if (bind.Count <= 0) throw new InvalidPlanException($"{step}: binds nothing");
                    if (bindFails?.Invoke(bind) == true) return false;
                    var endPoint = bind.EndPoint.Port == 0 ? new IPEndPoint(bind.EndPoint.Address, port++) : bind.EndPoint;
                    var sockets = bound.TryGetValue(bind.Listener, out var q) ? q : bound[bind.Listener] = new();
                    for (var i = 0; i < bind.Count; i++) sockets.Enqueue((inode++, endPoint));
                    break;
            }
        }
        _nextPort = port;
        _nextInode = inode;
        Node = Node with { Inherited = inherited };
        foreach (var step in plan.Commit)
        {
            Node = Commit(Node, step, bound);
            afterStep?.Invoke(step, Node);
        }
        if (bound.Values.Any(q => q.Count > 0)) throw new InvalidPlanException($"{plan}: bound sockets no shard took");
        return true;
    }

    /// <summary>Every retiring shard closed (its drain finished); retired listeners without shards are gone.</summary>
    public void CloseRetiring() =>
        Node = Node with
        {
            Listeners = Node.Listeners.Select(l => l with { Shards = l.Shards.Where(s => !s.Retiring).ToList() })
                .Where(l => !l.Retired || l.Shards.Count > 0).ToList(),
        };

    /// <summary>The predecessor released the shared groups.</summary>
    public void OnPredecessorLetGo() => Node = Node with { PredecessorHolds = false };

    /// <summary>The inherited sockets no listener took are declined.</summary>
    public void DeclineInherited() => Node = Node with { Inherited = [] };

    private ObservedNode Commit(ObservedNode node, CommitStep step, Dictionary<ListenerId, Queue<(long Inode, IPEndPoint EndPoint)>> bound)
    {
        switch (step)
        {
            case CommitStep.StartListener start:
                if (node.Listeners.Any(l => l.Id == start.Listener)) throw new InvalidPlanException($"{step}: it exists already");
                if (start.Listener.Incarnation < node.NextIncarnation.GetValueOrDefault(start.Listener.Name, 1))
                    throw new InvalidPlanException($"{step}: incarnation issued before");
                if (start.Settings.Name != start.Listener.Name) throw new InvalidPlanException($"{step}: settings of {start.Settings.Name}");
                var next = new Dictionary<string, int>(node.NextIncarnation, StringComparer.Ordinal) { [start.Listener.Name] = start.Listener.Incarnation + 1 };
                // The old incarnation (if any) stays the name's listener until its RetireListener: model that as both current.
                return node with
                {
                    Listeners = [.. node.Listeners, new ObservedListener(start.Listener, start.Settings, null, start.Settings.EffectiveShards, [], Steered: !node.PredecessorHolds)],
                    NextIncarnation = next,
                };
            case CommitStep.SetDesired set:
                return Change(node, set.Listener, l => l with { Desired = set.Shards });
            case CommitStep.StartShards start:
            {
                var shardIds = Issued.TryGetValue(start.Listener.Name, out var ids) ? ids : Issued[start.Listener.Name] = new();
                var nextShardId = new Dictionary<string, int>(node.NextShardId, StringComparer.Ordinal);
                return Change(node, start.Listener, l =>
                {
                    var shards = l.Shards.ToList();
                    var endPoint = l.BoundEndPoint;
                    foreach (var shard in start.Shards)
                    {
                        if (!shardIds.Add(shard.ShardId)) throw new InvalidPlanException($"{step}: shard id {shard.ShardId} of '{start.Listener.Name}' was given before");
                        long inode;
                        IPEndPoint at;
                        if (shard.Adopted is { } label)
                            (inode, at) = (label.Inode, label.EndPoint);
                        else if (bound.TryGetValue(start.Listener, out var sockets) && sockets.Count > 0)
                            (inode, at) = sockets.Dequeue();
                        else
                            throw new InvalidPlanException($"{step}: no bound socket left for shard {shard.ShardId}");
                        endPoint ??= at;
                        if (!at.Equals(endPoint)) throw new InvalidPlanException($"{step}: shard {shard.ShardId} on {at}, the listener on {endPoint}");
                        shards.Add(new ObservedShard(shard.ShardId, inode, Pinned: shard.Pinned));
                        nextShardId[start.Listener.Name] = Math.Max(nextShardId.GetValueOrDefault(start.Listener.Name), shard.ShardId + 1);
                    }
                    return l with { Shards = shards, BoundEndPoint = endPoint, Steered = !node.PredecessorHolds };
                }) with { NextShardId = nextShardId };
            }
            case CommitStep.RetireShards retire:
                return Change(node, retire.Listener, l => l with { Shards = Retire(node, l, retire.ShardIds, step), Steered = l.Steered || !node.PredecessorHolds });
            case CommitStep.RetireListener retire:
                return Change(node, retire.Listener, l =>
                {
                    if (l.Retired) throw new InvalidPlanException($"{step}: retired already");
                    return l with { Retired = true, Shards = Retire(node, l, retire.ShardIds, step) };
                });
            case CommitStep.Steer steer:
                if (node.PredecessorHolds) throw new InvalidPlanException($"{step}: the predecessor still holds the groups");
                return Change(node, steer.Listener, l => l with { Steered = true });
            default:
                throw new InvalidPlanException($"{step}: unknown step");
        }
    }

    private static List<ObservedShard> Retire(ObservedNode node, ObservedListener listener, IReadOnlyList<int> shardIds, CommitStep step)
    {
        if (shardIds.Count > 0 && node.DefersRetirement) throw new InvalidPlanException($"{step}: retires while the take-over defers retirements");
        if (shardIds.Distinct().Count() != shardIds.Count) throw new InvalidPlanException($"{step}: a shard twice");
        foreach (var id in shardIds)
        {
            var shard = listener.Shards.FirstOrDefault(s => s.ShardId == id) ?? throw new InvalidPlanException($"{step}: no shard {id}");
            if (shard.Retiring) throw new InvalidPlanException($"{step}: shard {id} retires already");
            if (shard.Pinned && !node.Draining) throw new InvalidPlanException($"{step}: shard {id} is pinned (systemd holds its socket) and the node does not drain");
        }
        return listener.Shards.Select(s => shardIds.Contains(s.ShardId) ? s with { Retiring = true } : s).ToList();
    }

    private static ObservedNode Change(ObservedNode node, ListenerId id, Func<ObservedListener, ObservedListener> change)
    {
        if (!node.Listeners.Any(l => l.Id == id)) throw new InvalidPlanException($"no listener {id}");
        return node with { Listeners = node.Listeners.Select(l => l.Id == id ? change(l) : l).ToList() };
    }

    /// <summary>The node as text: equal texts, equal nodes (the records hold lists, which compare by reference).</summary>
    public static string Describe(ObservedNode node) =>
        string.Join("\n", node.Listeners.Select(l =>
                $"{l.Id}{(l.Retired ? " retired" : "")} {l.Settings} on {l.BoundEndPoint} desired {l.Desired} steered {l.Steered}: " +
                string.Join(", ", l.Shards.OrderBy(s => s.ShardId).Select(s => $"{s.ShardId}/{s.Inode}{(s.Retiring ? "r" : "")}{(s.Pinned ? "p" : "")}")))
            .Append($"inherited: {string.Join("; ", node.Inherited)}")
            .Append($"shard ids: {string.Join(", ", node.NextShardId.OrderBy(p => p.Key).Select(p => $"{p.Key}={p.Value}"))}")
            .Append($"incarnations: {string.Join(", ", node.NextIncarnation.OrderBy(p => p.Key).Select(p => $"{p.Key}={p.Value}"))}")
            .Append($"taking over {node.PredecessorHolds}, draining {node.Draining}"));
}

/// <summary>A plan step that does not fit the node it is executed on.</summary>
internal sealed class InvalidPlanException(string message) : Exception(message);
