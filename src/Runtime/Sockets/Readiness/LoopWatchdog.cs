namespace ShardRuntime.Runtime.Sockets.Readiness;

/// <summary>
/// Tells when an I/O loop is held up: it is not waiting for events, yet has not begun a new turn for
/// <see cref="Threshold"/> or longer, because work on it (an actor's mailbox run, a handler) blocks; every socket of
/// the loop waits meanwhile. Call <see cref="Check"/> regularly (once a second, say) from a thread that is not a loop;
/// it compares each started loop's <see cref="ReadinessEngine.Turns"/> with what the previous call saw. A hold-up is
/// reported once when it passes the threshold, and once more when the loop moves on. Not thread-safe: one caller.
/// </summary>
public sealed class LoopWatchdog(TimeSpan threshold)
{
    private readonly Dictionary<int, Seen> _seen = new();

    /// <summary>How long a loop may stay in one turn before it is reported.</summary>
    public TimeSpan Threshold { get; } = threshold > TimeSpan.Zero
        ? threshold
        : throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "a hold-up threshold must be positive");

    /// <summary>What changed since the previous call, as of <paramref name="now"/> (any clock, the same for every call).</summary>
    public IReadOnlyList<LoopHoldUp> Check(TimeSpan now)
    {
        List<LoopHoldUp>? changes = null;
        foreach (var loop in ReadinessEngine.Started)
        {
            var turns = loop.Turns;
            var known = _seen.TryGetValue(loop.Index, out var seen);
            if (loop.IsWaiting || !known || seen.Turns != turns)
            {
                if (known && seen.Reported)
                    (changes ??= []).Add(new LoopHoldUp(loop.Index, now - seen.Since, Ended: true));
                _seen[loop.Index] = new Seen(turns, now, Reported: false);
            }
            else if (!seen.Reported && now - seen.Since >= Threshold)
            {
                _seen[loop.Index] = seen with { Reported = true };
                (changes ??= []).Add(new LoopHoldUp(loop.Index, now - seen.Since, Ended: false));
            }
        }
        return changes ?? (IReadOnlyList<LoopHoldUp>)[];
    }

    private readonly record struct Seen(long Turns, TimeSpan Since, bool Reported);
}

/// <summary>
/// Loop <paramref name="Loop"/> (thread <c>shardrt-io-&lt;n&gt;</c>) has been held up in one turn for at least
/// <paramref name="For"/> (<paramref name="Ended"/> false), or moved on after about that long (true).
/// </summary>
public readonly record struct LoopHoldUp(int Loop, TimeSpan For, bool Ended);
