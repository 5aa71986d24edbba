namespace ShardRuntime.Actors.Coordination.Reconciliation;

/// <summary>
/// What it takes to make the node match its desired state: <see cref="Acquire"/> steps first (all, or the plan is
/// abandoned and changes nothing), then <see cref="Commit"/> steps in order. Within the commit steps every start comes
/// before every retirement, so a port that is wanted keeps an accepting socket throughout.
/// </summary>
/// <param name="Acquire">Adopt, take handlers, bind: may fail.</param>
/// <param name="Commit">Start listeners and shards, set desired counts, steer, retire.</param>
/// <param name="Deferred">
/// Retirements that wait for the take-over to complete (the predecessor still shares the groups). Not to be executed:
/// planning again once the take-over completed brings them back as commit steps.
/// </param>
internal sealed record Plan(IReadOnlyList<AcquireStep> Acquire, IReadOnlyList<CommitStep> Commit, IReadOnlyList<CommitStep> Deferred)
{
    /// <summary>Nothing to do.</summary>
    public static readonly Plan Empty = new([], [], []);

    /// <summary>Nothing to execute now (deferred retirements may wait).</summary>
    public bool IsEmpty => Acquire.Count == 0 && Commit.Count == 0;

    /// <inheritdoc />
    public override string ToString() =>
        IsEmpty && Deferred.Count == 0 ? "nothing to do" : string.Join("; ", Acquire.Select(s => s.ToString())
            .Concat(Commit.Select(s => s.ToString()))
            .Concat(Deferred.Select(s => $"deferred: {s}")));
}
