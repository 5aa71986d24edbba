using ShardRuntime.Runtime.Sockets.Readiness;

namespace ShardRuntime.Runtime.Tests.Sockets;

/// <summary>
/// The watchdog on a real loop (loop 9, which no other test uses) held up by blocking work; the clock it is given is
/// made up, so that thresholds are exact and nothing sleeps.
/// </summary>
public sealed class LoopWatchdogTests
{
    private const int Index = 9;

    [Fact]
    public async Task A_loop_held_up_in_one_turn_must_be_reported_once_past_the_threshold_and_once_when_it_moves_on()
    {
        var loop = ReadinessEngine.Loop(Index);
        var watchdog = new LoopWatchdog(TimeSpan.FromSeconds(1));
        await Eventually.UntilAsync(() => loop.IsWaiting, "the new loop never waited for events");

        // Idle (waiting in epoll_wait): never held up, however long.
        Assert.Empty(Of(watchdog.Check(At(0))));
        Assert.Empty(Of(watchdog.Check(At(5))));

        using var started = new SemaphoreSlim(0);
        using var release = new ManualResetEventSlim();
        loop.Post(new Blocking(started, release));
        Assert.True(await started.WaitAsync(Eventually.Timeout), "the blocking work never ran");
        try
        {
            Assert.Empty(Of(watchdog.Check(At(10)))); // first sight of this turn
            Assert.Empty(Of(watchdog.Check(At(10.5)))); // under the threshold
            var holdUp = Assert.Single(Of(watchdog.Check(At(11.25))));
            Assert.Equal(new LoopHoldUp(Index, TimeSpan.FromSeconds(1.25), Ended: false), holdUp);
            Assert.Empty(Of(watchdog.Check(At(12)))); // reported once
        }
        finally
        {
            release.Set();
        }

        await Eventually.UntilAsync(() => loop.IsWaiting, "the loop did not go back to waiting");
        var ended = Assert.Single(Of(watchdog.Check(At(13))));
        Assert.Equal(new LoopHoldUp(Index, TimeSpan.FromSeconds(3), Ended: true), ended);
        Assert.Empty(Of(watchdog.Check(At(14))));
        Assert.Contains(ReadinessEngine.Started, l => l.Index == Index);
    }

    [Fact]
    public async Task A_loop_that_keeps_turning_must_not_be_reported()
    {
        var loop = ReadinessEngine.Loop(Index);
        var watchdog = new LoopWatchdog(TimeSpan.FromSeconds(1));
        // Work that posts itself again: the loop never waits, but every check finds it in a later turn.
        using var stop = new CancellationTokenSource();
        var turns = loop.Turns;
        loop.Post(new Repost(loop, stop.Token));
        try
        {
            for (var second = 0; second < 5; second++)
            {
                var before = loop.Turns;
                await Eventually.UntilAsync(() => loop.Turns > before + 1, "the loop stopped turning");
                Assert.Empty(Of(watchdog.Check(At(second * 2))));
            }
            Assert.True(loop.Turns > turns);
        }
        finally
        {
            stop.Cancel();
        }
    }

    [Fact]
    public void A_threshold_that_is_not_positive_must_be_refused()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new LoopWatchdog(TimeSpan.Zero));
        Assert.Contains("must be positive", e.Message);
    }

    private static TimeSpan At(double seconds) => TimeSpan.FromSeconds(seconds);

    private static IEnumerable<LoopHoldUp> Of(IReadOnlyList<LoopHoldUp> changes) => changes.Where(c => c.Loop == Index);

    private sealed class Blocking(SemaphoreSlim started, ManualResetEventSlim release) : IThreadPoolWorkItem
    {
        public void Execute()
        {
            started.Release();
            release.Wait(TimeSpan.FromSeconds(30)); // bounded: a failed test must not keep the loop forever
        }
    }

    private sealed class Repost(ReadinessEngine loop, CancellationToken stop) : IThreadPoolWorkItem
    {
        public void Execute()
        {
            if (!stop.IsCancellationRequested) loop.Post(this);
        }
    }
}
