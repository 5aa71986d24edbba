using System.Collections.Concurrent;
using ShardRuntime.LoadGen.Run;

namespace ShardRuntime.LoadGen.Reporting;

/// <summary>Counts failed attempts in their mode's counters, and tallies other errors by name and wrong replies by reason.</summary>
internal sealed class FailureTally
{
    private readonly ConcurrentDictionary<string, long> _otherErrors = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _wrongReasons = new(StringComparer.Ordinal);

    /// <summary><paramref name="count"/> attempts of <paramref name="counters"/>' mode ended in <paramref name="outcome"/> (with <paramref name="detail"/>: an error name or a wrong-reply reason).</summary>
    public void Record(ModeCounters counters, Outcome outcome, string? detail, int count)
    {
        counters.Record(outcome, count);
        if (outcome == Outcome.OtherError)
            _otherErrors.AddOrUpdate(detail ?? "unknown", count, (_, n) => n + count);
        else if (outcome == Outcome.WrongReply)
            _wrongReasons.AddOrUpdate(detail ?? "unknown", count, (_, n) => n + count);
    }

    public IReadOnlyDictionary<string, long> OtherErrors => new SortedDictionary<string, long>(_otherErrors, StringComparer.Ordinal);

    public IReadOnlyDictionary<string, long> WrongReplyReasons => new SortedDictionary<string, long>(_wrongReasons, StringComparer.Ordinal);
}
