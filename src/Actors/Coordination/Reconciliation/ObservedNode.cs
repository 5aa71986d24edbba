namespace ShardRuntime.Actors.Coordination.Reconciliation;

/// <summary>
/// The node as the executor sees it, all the <see cref="Reconciler"/> decides from besides the desired listeners.
/// </summary>
/// <param name="Listeners">Every listener incarnation that has shards or is its name's current one (see <see cref="ObservedListener.Retired"/>).</param>
/// <param name="Inherited">Inherited socket groups no listener adopted yet (start-up only; the executor declines the rest).</param>
/// <param name="NextShardId">Per listener name, the lowest shard id never issued (absent: 0).</param>
/// <param name="NextIncarnation">Per listener name, the lowest incarnation never issued (absent: 1).</param>
/// <param name="PredecessorHolds">
/// This node took sockets from a predecessor that has not released them yet: it changes nothing in the shared groups
/// (no steering, no retirement) until the take-over completed; retirements are deferred.
/// </param>
/// <param name="Draining">The node drains for shutdown: pinned sockets retire too, and nothing is deferred.</param>
internal sealed record ObservedNode(
    IReadOnlyList<ObservedListener> Listeners,
    IReadOnlyList<InheritedGroup> Inherited,
    IReadOnlyDictionary<string, int> NextShardId,
    IReadOnlyDictionary<string, int> NextIncarnation,
    bool PredecessorHolds = false,
    bool Draining = false)
{
    /// <summary>A node with no listener and nothing inherited.</summary>
    public static readonly ObservedNode Empty = new([], [], new Dictionary<string, int>(), new Dictionary<string, int>());

    /// <summary>The listener serving <paramref name="name"/> now (not retired), or null.</summary>
    public ObservedListener? Current(string name) => Listeners.FirstOrDefault(l => !l.Retired && l.Id.Name == name);

    /// <summary>The listeners serving now, one per name.</summary>
    public IEnumerable<ObservedListener> CurrentListeners => Listeners.Where(l => !l.Retired);

    /// <summary>Retirements wait: the predecessor still shares the groups (and the node does not drain).</summary>
    public bool DefersRetirement => PredecessorHolds && !Draining;
}
