using System.Diagnostics;

namespace ShardRuntime.LoadGen.Run;

/// <summary>
/// Open-loop pacing from the start of a run: start n (from 1) is due at (n - 1) / rate seconds, and none is due at or
/// after the deadline. The dispatcher asks how many are due now, launches (or skips) them, then waits for the next.
/// Used by one dispatcher task at a time.
/// </summary>
internal sealed class OpenLoopPacer(long startTimestamp, long deadlineTimestamp, int rate)
{
    private readonly double _rate = rate;
    private readonly double _frequency = Stopwatch.Frequency;

    /// <summary>Starts dispatched so far (launched or skipped).</summary>
    public long Launched { get; private set; }

    /// <summary>Starts due by <paramref name="now"/> that were not dispatched yet.</summary>
    public long DueAt(long now) =>
        Math.Max(0, (long)((Math.Min(now, deadlineTimestamp - 1) - startTimestamp) * _rate / _frequency) + 1 - Launched);

    /// <summary>Counts one start as dispatched.</summary>
    public void Dispatched() => Launched++;

    /// <summary>Waits until the next start is due; false when <paramref name="token"/> ends the wait first.</summary>
    public async Task<bool> WaitForNextAsync(CancellationToken token)
    {
        long wait = startTimestamp + (long)(Launched * _frequency / _rate) - Stopwatch.GetTimestamp();
        if (wait <= 0)
            return !token.IsCancellationRequested;
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(Math.Max(wait / _frequency, 0.001)), token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
