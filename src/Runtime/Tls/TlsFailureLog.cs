namespace ShardRuntime.Runtime.Tls;

/// <summary>
/// Logs a TLS listener's handshake failures at a sane rate: the first <c>burst</c> of each interval one by one, the
/// rest only counted, then one summary line with their number when the next interval begins (at its first failure, or
/// at a <see cref="Tick"/> of the caller's timer, whichever comes first). A flood of bad handshakes thus writes at most
/// <c>burst + 1</c> lines per interval. The decision is the pure function <see cref="Decide"/>; this class keeps its state
/// for the handshakes of every shard at once (thread-safe).
/// </summary>
public sealed class TlsFailureLog(TimeSpan interval, int burst, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly object _gate = new();
    private Window _window;

    /// <summary>
    /// One interval of the log: when it started, how many failures were written and how many were not.
    /// <c>default</c> is the state before any failure.
    /// </summary>
    /// <param name="Start">When the interval started (UTC).</param>
    /// <param name="Written">Failures logged one by one in it.</param>
    /// <param name="Suppressed">Failures counted but not logged in it.</param>
    public readonly record struct Window(DateTime Start, int Written, long Suppressed);

    /// <summary>
    /// The decision for a failure at <paramref name="now"/> (<paramref name="failure"/> true) or for a timer's tick
    /// (false: never writes a failure, only the summary of an interval that ended), and the state after it.
    /// </summary>
    public static (TlsFailureLogDecision Decision, Window Next) Decide(Window window, DateTime now, TimeSpan interval, int burst, bool failure)
    {
        var ended = window.Start == default || now - window.Start >= interval;
        if (ended)
        {
            var summary = window.Suppressed;
            if (!failure)
                return summary == 0 ? (TlsFailureLogDecision.Nothing, window) : (new TlsFailureLogDecision(false, summary, interval), new Window(now, 0, 0));
            var write = burst > 0;
            return (new TlsFailureLogDecision(write, summary, interval), new Window(now, write ? 1 : 0, write ? 0 : 1));
        }
        if (!failure) return (TlsFailureLogDecision.Nothing, window);
        return window.Written < burst
            ? (new TlsFailureLogDecision(true, 0, interval), window with { Written = window.Written + 1 })
            : (TlsFailureLogDecision.Nothing, window with { Suppressed = window.Suppressed + 1 });
    }

    /// <summary>A handshake failed now: whether to log it, and whether to log the summary of the interval before first.</summary>
    public TlsFailureLogDecision OnFailure() => Step(failure: true);

    /// <summary>
    /// For the caller's periodic timer: the summary of an interval that ended with failures not logged (so that the
    /// last interval of a flood is summed up even when no failure follows it), or <see cref="TlsFailureLogDecision.Nothing"/>.
    /// </summary>
    public TlsFailureLogDecision Tick() => Step(failure: false);

    private TlsFailureLogDecision Step(bool failure)
    {
        var now = _time.GetUtcNow().UtcDateTime;
        lock (_gate)
        {
            var (decision, next) = Decide(_window, now, interval, burst, failure);
            _window = next;
            return decision;
        }
    }
}
