using System.Diagnostics;

namespace ShardRuntime.LoadGen.Run;

/// <summary>
/// Open-loop pacing from the start of a run: start n (from 1) is due at (n - 1) / rate seconds, and none is due at or
/// after the deadline. Starts that fall due while the dispatcher was late are dispatched at once, in a burst.
/// </summary>
internal sealed class OpenLoopPacer(long startTimestamp, long deadlineTimestamp, int rate)
{
    private readonly double _rate = rate;
    private readonly double _frequency = Stopwatch.Frequency;
    private long _dispatched;

    /// <summary>
    /// Calls <paramref name="start"/> once for every start as it falls due, until it returns false (the run's bound
    /// is reached) or <paramref name="token"/> is cancelled. A start that is skipped still returns true.
    /// </summary>
    public async Task RunAsync(Func<bool> start, CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            for (long due = DueAt(Stopwatch.GetTimestamp()); due > 0; due--)
            {
                _dispatched++;
                if (!start())
                    return;
            }
            long wait = startTimestamp + (long)(_dispatched * _frequency / _rate) - Stopwatch.GetTimestamp();
            if (wait <= 0)
                continue;
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(Math.Max(wait / _frequency, 0.001)), token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Starts due by <paramref name="now"/> that were not dispatched yet.</summary>
    internal long DueAt(long now) =>
        Math.Max(0, (long)((Math.Min(now, deadlineTimestamp - 1) - startTimestamp) * _rate / _frequency) + 1 - _dispatched);
}
