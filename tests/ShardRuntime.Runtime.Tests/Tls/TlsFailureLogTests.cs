using ShardRuntime.Runtime.Tls;

namespace ShardRuntime.Runtime.Tests.Tls;

/// <summary>The rate of the handshake failure log: the pure decision, and the gate over it under a flood.</summary>
public sealed class TlsFailureLogTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);
    private static readonly DateTime T0 = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    [Fact]
    public void The_first_failures_of_an_interval_must_be_logged_the_rest_counted_and_summed_up_when_the_next_begins()
    {
        var window = default(TlsFailureLog.Window);
        var written = new List<bool>();
        for (var i = 0; i < 8; i++)
        {
            var (decision, next) = TlsFailureLog.Decide(window, T0.AddSeconds(i), Interval, burst: 3, failure: true);
            Assert.Equal(0, decision.SuppressedBefore);
            written.Add(decision.Write);
            window = next;
        }
        Assert.Equal([true, true, true, false, false, false, false, false], written);

        var (later, after) = TlsFailureLog.Decide(window, T0 + Interval, Interval, burst: 3, failure: true);

        Assert.Equal(new TlsFailureLogDecision(true, 5, Interval), later);
        Assert.Equal(new TlsFailureLog.Window(T0 + Interval, 1, 0), after);
    }

    [Fact]
    public void A_tick_must_sum_up_an_interval_that_ended_with_failures_not_logged_and_nothing_else()
    {
        var window = new TlsFailureLog.Window(T0, 3, 4);

        Assert.Equal(TlsFailureLogDecision.Nothing, TlsFailureLog.Decide(window, T0.AddSeconds(9), Interval, 3, failure: false).Decision);
        var (summary, next) = TlsFailureLog.Decide(window, T0.AddSeconds(11), Interval, 3, failure: false);
        Assert.Equal(new TlsFailureLogDecision(false, 4, Interval), summary);
        Assert.Equal(TlsFailureLogDecision.Nothing, TlsFailureLog.Decide(next, T0.AddSeconds(30), Interval, 3, failure: false).Decision);
        Assert.Equal(TlsFailureLogDecision.Nothing, TlsFailureLog.Decide(default, T0, Interval, 3, failure: false).Decision);
    }

    [Fact]
    public void A_burst_of_zero_must_log_only_summaries()
    {
        var (first, window) = TlsFailureLog.Decide(default, T0, Interval, burst: 0, failure: true);
        var (second, _) = TlsFailureLog.Decide(window, T0 + Interval, Interval, burst: 0, failure: true);

        Assert.False(first.Write);
        Assert.Equal(new TlsFailureLogDecision(false, 1, Interval), second);
    }

    [Fact]
    public async Task A_flood_from_many_threads_must_write_at_most_burst_lines_per_interval_and_lose_no_count()
    {
        var time = new ManualTime(T0);
        var log = new TlsFailureLog(Interval, 5, time);
        var decisions = new System.Collections.Concurrent.ConcurrentBag<TlsFailureLogDecision>();

        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 2_500; i++) decisions.Add(log.OnFailure());
        })));
        time.Now += Interval;
        var summary = log.Tick();

        Assert.Equal(5, decisions.Count(d => d.Write));
        Assert.Equal(10_000 - 5, summary.SuppressedBefore);
    }

    private sealed class ManualTime(DateTime now) : TimeProvider
    {
        public DateTime Now { get; set; } = now;
        public override DateTimeOffset GetUtcNow() => new(Now);
    }
}
