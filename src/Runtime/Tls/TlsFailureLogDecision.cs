namespace ShardRuntime.Runtime.Tls;

/// <summary>
/// What to log for one handshake failure (or at a <see cref="TlsFailureLog.Tick"/>): the failure itself or not, and
/// first a summary line when <see cref="SuppressedBefore"/> failures went unlogged in the interval that just ended.
/// </summary>
/// <param name="Write">Log this failure (false: it is counted, not logged).</param>
/// <param name="SuppressedBefore">Failures not logged in the interval that ended (0: no summary line).</param>
/// <param name="Interval">The interval they fell in (for the summary line's wording).</param>
public readonly record struct TlsFailureLogDecision(bool Write, long SuppressedBefore, TimeSpan Interval)
{
    /// <summary>Nothing to log.</summary>
    public static TlsFailureLogDecision Nothing => default;
}
