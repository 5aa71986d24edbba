namespace ShardRuntime.Actors.Coordination.Reconciliation;

/// <summary>
/// One incarnation of a named listener. A change of anything but its shard count replaces a listener with a new
/// incarnation (new sockets, new handler registry) while the old one retires, so two incarnations of one name can live
/// at once; incarnations count up per name from 1 and are never reused while the node runs.
/// </summary>
internal readonly record struct ListenerId(string Name, int Incarnation)
{
    /// <inheritdoc />
    public override string ToString() => $"{Name}@{Incarnation}";
}
