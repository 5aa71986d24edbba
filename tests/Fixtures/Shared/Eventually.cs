using System.Diagnostics;

namespace ShardRuntime.Tests.Shared;

/// <summary>
/// Bounded polling, for what a test cannot be told of (another thread's state, another process's, the kernel's): the
/// probe is asked at once, then again after each <c>interval</c> until it holds or <c>timeout</c> has passed. Every wait
/// is bounded and none is a fixed sleep standing in for synchronisation. Linked into every test project that polls.
/// </summary>
internal static class Eventually
{
    /// <summary>How long <see cref="UntilAsync"/> waits when not told: generous, for a loaded 2-core machine.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    /// <summary>Between two probes when not told: short, for probes that cost little.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// Asks <paramref name="probe"/> until <paramref name="accept"/> takes its value or <paramref name="timeout"/> has
    /// passed, and returns the last value either way: the caller asserts on it and says what it saw. What the probe
    /// throws ends the wait.
    /// </summary>
    public static async Task<T> ValueAsync<T>(Func<Task<T>> probe, Func<T, bool> accept, TimeSpan timeout, TimeSpan? interval = null)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var value = await probe();
            if (accept(value) || clock.Elapsed >= timeout) return value;
            await Task.Delay(interval ?? Interval);
        }
    }

    /// <summary>Whether <paramref name="condition"/> comes true within <paramref name="timeout"/>.</summary>
    public static Task<bool> TrueAsync(Func<Task<bool>> condition, TimeSpan timeout, TimeSpan? interval = null) =>
        ValueAsync(condition, static held => held, timeout, interval);

    /// <summary>Whether <paramref name="condition"/> comes true within <paramref name="timeout"/>.</summary>
    public static Task<bool> TrueAsync(Func<bool> condition, TimeSpan timeout, TimeSpan? interval = null) =>
        TrueAsync(() => Task.FromResult(condition()), timeout, interval);

    /// <summary>Returns once <paramref name="condition"/> holds; fails the test with <paramref name="failure"/> after <paramref name="timeout"/> (default <see cref="Timeout"/>).</summary>
    public static async Task UntilAsync(Func<bool> condition, string failure = "condition not met in time", TimeSpan? timeout = null) =>
        Assert.True(await TrueAsync(condition, timeout ?? Timeout), failure);
}
