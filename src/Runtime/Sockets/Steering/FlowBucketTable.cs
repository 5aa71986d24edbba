namespace ShardRuntime.Runtime.Sockets;

/// <summary>
/// Which member of a reuseport group each flow bucket goes to, for flow-sticky steering
/// (<see cref="ReuseportSteeringProgram.FlowSticky"/>): a flow whose id hashes to bucket b is served by
/// <c>Owners[b]</c>. Members are named by identity, not position, because positions move when a member closes. The
/// table changes as little as it can: a member that stops taking new flows (it retires) hands only its own buckets
/// to the others; a member that joins takes buckets from the most loaded until the load is even (those flows move:
/// growing a group cannot keep every flow where it was). Pure and deterministic; one owner (the group) changes it.
/// </summary>
/// <typeparam name="TMember">What names a member (a socket, in the group).</typeparam>
public sealed class FlowBucketTable<TMember>
    where TMember : class
{
    private readonly TMember?[] _owners;

    /// <summary>A table of <paramref name="bucketCount"/> buckets, dealt round-robin to <paramref name="members"/> (none: all unowned).</summary>
    public FlowBucketTable(int bucketCount, IReadOnlyList<TMember> members)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bucketCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bucketCount, ReuseportSteeringProgram.MaxBuckets);
        ArgumentNullException.ThrowIfNull(members);
        _owners = new TMember?[bucketCount];
        for (int b = 0; b < bucketCount && members.Count > 0; b++)
        {
            _owners[b] = members[b % members.Count];
        }
    }

    /// <summary>The member of each bucket (null while the table has no member).</summary>
    public IReadOnlyList<TMember?> Owners => _owners;

    /// <summary>How many buckets <paramref name="member"/> owns.</summary>
    public int CountOf(TMember member) => _owners.Count(o => ReferenceEquals(o, member));

    /// <summary>
    /// <paramref name="joining"/> takes buckets, one at a time from the member that owns the most (the highest bucket of
    /// it), until it owns its even share (bucket count / members, rounded down). An empty table gives it every bucket.
    /// </summary>
    public void Include(TMember joining)
    {
        ArgumentNullException.ThrowIfNull(joining);
        if (_owners.Any(o => ReferenceEquals(o, joining)))
        {
            return;
        }

        if (_owners.All(o => o is null))
        {
            Array.Fill(_owners, joining);
            return;
        }

        int members = _owners.Where(o => o is not null).Distinct(ReferenceEqualityComparer.Instance).Count() + 1;
        for (int share = _owners.Length / members, taken = 0; taken < share; taken++)
        {
            var richest = _owners.Where(o => o is not null).GroupBy(o => o!, ReferenceEqualityComparer.Instance)
                .OrderByDescending(g => g.Count()).First().Key;
            int bucket = Array.FindLastIndex(_owners, o => ReferenceEquals(o, richest));
            _owners[bucket] = joining;
        }
    }

    /// <summary>
    /// <paramref name="leaving"/> hands each of its buckets, lowest first, to the member of <paramref name="staying"/>
    /// that owns the fewest buckets (the first of them on a tie). Every other bucket keeps its member.
    /// </summary>
    public void Exclude(TMember leaving, IReadOnlyList<TMember> staying)
    {
        ArgumentNullException.ThrowIfNull(leaving);
        ArgumentNullException.ThrowIfNull(staying);
        if (staying.Count == 0 || staying.Any(s => ReferenceEquals(s, leaving)))
        {
            throw new ArgumentException("The members that stay must be others than the one that leaves, and at least one.", nameof(staying));
        }

        var counts = staying.Select(CountOf).ToArray();
        for (int b = 0; b < _owners.Length; b++)
        {
            if (!ReferenceEquals(_owners[b], leaving))
            {
                continue;
            }

            int poorest = Array.IndexOf(counts, counts.Min());
            _owners[b] = staying[poorest];
            counts[poorest]++;
        }
    }
}
