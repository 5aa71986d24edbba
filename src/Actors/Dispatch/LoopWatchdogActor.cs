using System.Diagnostics;
using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;
using ShardRuntime.Runtime.Sockets.Readiness;

namespace ShardRuntime.Actors.Dispatch;

/// <summary>
/// Logs the process's I/O loops that blocking work holds up (<see cref="LoopWatchdog"/>): a warning once a loop has
/// been in one turn for the threshold (<c>io-loop-hold-up-warning</c>), with the way out, and a line when it moves on.
/// A child of the coordinator, on the default dispatcher: never on a loop it watches.
/// </summary>
internal sealed class LoopWatchdogActor : ReceiveActor, IWithTimers
{
    public const string ActorName = "loop-watchdog";

    private readonly LoopWatchdog _watchdog;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public static Props Props(TimeSpan threshold) =>
        Akka.Actor.Props.Create(() => new LoopWatchdogActor(threshold)).WithDispatcher(Dispatchers.DefaultDispatcherId);

    public ITimerScheduler Timers { get; set; } = null!;

    public LoopWatchdogActor(TimeSpan threshold)
    {
        _watchdog = new LoopWatchdog(threshold);
        Receive<Check>(_ =>
        {
            foreach (var holdUp in _watchdog.Check(_clock.Elapsed))
            {
                if (holdUp.Ended)
                    _log.Info("I/O loop {0} moved on after being held up for about {1:0.0} s", holdUp.Loop, holdUp.For.TotalSeconds);
                else
                    _log.Warning("I/O loop {0} (thread shardrt-io-{0}) has been held up in one turn for {1:0.0} s: an actor or handler " +
                                 "on it blocks, and every connection of the shards on that loop waits. Handlers must not block on a " +
                                 "loop; actors-on-io-loops = off runs them on the thread pool", holdUp.Loop, holdUp.For.TotalSeconds);
            }
        });
    }

    // Twice per threshold: a hold-up is reported between one and one and a half thresholds after it began.
    protected override void PreStart() => Timers.StartPeriodicTimer(nameof(Check), Check.Instance, _watchdog.Threshold / 2);

    private sealed class Check
    {
        public static readonly Check Instance = new();
    }
}
