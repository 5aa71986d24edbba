using Akka.TestKit.Xunit2;
using ShardRuntime.Actors.Tests.Support;
using ShardRuntime.Runtime.Sockets.Readiness;
using Xunit.Abstractions;

namespace ShardRuntime.Actors.Tests.Connection;

/// <summary>
/// The coordinator watches the process's I/O loops: a loop held up by blocking work is logged as a warning that says
/// what to do, and again when it moves on. Loop 10 is blocked here (no other spec uses it), not a shard's loop, so that
/// the specs running beside this one keep their loops.
/// </summary>
public sealed class LoopWatchdogSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    [Fact]
    public void A_loop_held_up_by_blocking_work_must_be_logged_with_the_way_out_and_again_when_it_moves_on()
    {
        Specs.StartCoordinator(Sys, Specs.Settings("""e { endpoint = "127.0.0.1:0", handler = echo, shards = 1 }""", "io-loop-hold-up-warning = 200ms"));
        var loop = ReadinessEngine.Loop(10);
        using var release = new ManualResetEventSlim();
        try
        {
            EventFilter.Warning(contains: "I/O loop 10 (thread shardrt-io-10) has been held up in one turn")
                .ExpectOne(TimeSpan.FromSeconds(15), () => loop.Post(new Blocking(release)));
            EventFilter.Info(contains: "I/O loop 10 moved on after being held up")
                .ExpectOne(TimeSpan.FromSeconds(15), () => release.Set());
        }
        finally
        {
            release.Set();
        }
    }

    private sealed class Blocking(ManualResetEventSlim release) : IThreadPoolWorkItem
    {
        public void Execute() => release.Wait(TimeSpan.FromSeconds(30)); // bounded: a failed spec must not keep the loop
    }
}
