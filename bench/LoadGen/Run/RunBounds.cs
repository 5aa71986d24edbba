using System.Diagnostics;

namespace ShardRuntime.LoadGen.Run;

/// <summary>
/// When a run started, and when it stops starting attempts: at the duration's deadline, after the count, or when
/// cancelled, whichever comes first. <see cref="Token"/> is cancelled then, which ends the dispatchers' waits. Owned
/// by its run, which disposes it.
/// </summary>
internal sealed class RunBounds(LoadOptions options) : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly long _countLimit = options.Count ?? long.MaxValue;
    private long _issued;

    public DateTimeOffset StartedAt { get; private set; }

    public long StartTimestamp { get; private set; }

    /// <summary>No attempt starts at or after this Stopwatch timestamp.</summary>
    public long DeadlineTimestamp { get; private set; }

    /// <summary>Cancelled when the run stops starting attempts.</summary>
    public CancellationToken Token => _stop.Token;

    public bool IsStopped => _stop.IsCancellationRequested;

    /// <summary>Starts the clock and the duration; cancelling <paramref name="cancellationToken"/> stops the run early until the returned registration is disposed.</summary>
    public CancellationTokenRegistration Start(CancellationToken cancellationToken)
    {
        StartedAt = DateTimeOffset.UtcNow;
        StartTimestamp = Stopwatch.GetTimestamp();
        DeadlineTimestamp = StartTimestamp + (long)(options.EffectiveDuration.TotalSeconds * Stopwatch.Frequency);
        _stop.CancelAfter(options.EffectiveDuration);
        return cancellationToken.Register(Stop);
    }

    public void Stop() => _stop.Cancel();

    /// <summary>
    /// Takes the number of the next attempt (from 1); false once the run stops, the duration is over (checked here
    /// too, so a late timer cannot stretch it) or the count is used up. Thread-safe.
    /// </summary>
    public bool TryTakeTicket(out long sequence)
    {
        sequence = 0;
        if (_stop.IsCancellationRequested)
            return false;
        if (Stopwatch.GetTimestamp() >= DeadlineTimestamp || (sequence = Interlocked.Increment(ref _issued)) > _countLimit)
        {
            _ = _stop.CancelAsync();
            return false;
        }
        return true;
    }

    /// <summary>Open-loop pacing at <paramref name="rate"/> per second from the start to the deadline.</summary>
    public OpenLoopPacer NewPacer(int rate) => new(StartTimestamp, DeadlineTimestamp, rate);

    /// <summary>Time from the start to <paramref name="timestamp"/> (a Stopwatch timestamp).</summary>
    public TimeSpan ElapsedUntil(long timestamp) => Stopwatch.GetElapsedTime(StartTimestamp, timestamp);

    public void Dispose() => _stop.Dispose();
}
