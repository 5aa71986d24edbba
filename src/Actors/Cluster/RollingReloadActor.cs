using Akka.Actor;
using Akka.Event;
using CoordinatorProtocol = ShardRuntime.Actors.Coordinator.Coordinator;

namespace ShardRuntime.Actors.Cluster;

/// <summary>
/// One rolling reload, a child of the cluster actor: asks each node in turn to reload and drain
/// (<see cref="ClusterListeners.ReloadNode"/>), starts the next only after the previous answered that it is done, stops
/// at the first failure, and reports every node's outcome to its parent, then stops.
/// </summary>
internal sealed class RollingReloadActor : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ClusterListeners.RollingReload _reload;
    private readonly IReadOnlyList<Address> _nodes;
    private readonly int? _generation;
    private readonly TimeSpan _stepTimeout;
    private readonly IActorRef _replyTo;
    private readonly List<ClusterListeners.NodeReloadStep> _steps = new();

    private readonly TimeSpan _timeout;

    public RollingReloadActor(
        ClusterListeners.RollingReload reload, IReadOnlyList<Address> nodes, int? generation, TimeSpan stepTimeout, TimeSpan timeout, IActorRef replyTo)
    {
        _reload = reload;
        _nodes = nodes;
        _generation = generation;
        _stepTimeout = stepTimeout;
        _timeout = timeout;
        _replyTo = replyTo;
        Receive<StepAnswered>(OnAnswered);
        Receive<TimedOut>(_ =>
        {
            var node = _nodes[_steps.Count].ToString();
            _steps.Add(new ClusterListeners.NodeReloadStep(node, "unfinished", [], null, $"still reloading when the rolling reload ran out of time ({_timeout})"));
            Finish($"the rolling reload did not finish within {_timeout} (cluster.rolling-reload.timeout); node {node} was still reloading");
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart()
    {
        Timers.StartSingleTimer(nameof(TimedOut), TimedOut.Instance, _timeout);
        Next();
    }

    private void Next()
    {
        if (_steps.Count == _nodes.Count)
        {
            Finish(null);
            return;
        }
        var node = _nodes[_steps.Count];
        _log.Info("Rolling reload: node {Node} ({Index} of {Count})", node, _steps.Count + 1, _nodes.Count);
        // The node bounds its own step by the step timeout; the margin lets its answer arrive first.
        Context.ActorSelection(new RootActorPath(node) / "user" / ClusterListeners.ActorName)
            .Ask<object>(new ClusterListeners.ReloadNode(_reload.Listener, _generation), _stepTimeout + TimeSpan.FromSeconds(10))
            .PipeTo(Self, success: answer => new StepAnswered(answer), failure: e => new StepAnswered(new Status.Failure(e)));
    }

    private void OnAnswered(StepAnswered answered)
    {
        var node = _nodes[_steps.Count].ToString();
        switch (answered.Answer)
        {
            case ClusterListeners.NodeReloaded done:
                _steps.Add(new ClusterListeners.NodeReloadStep(node, done.Served ? "reloaded" : "not served", done.Generations, Math.Round(done.Seconds, 3), null));
                Next();
                break;
            case ClusterListeners.NodeReloadFailed failed:
                _steps.Add(new ClusterListeners.NodeReloadStep(node, "failed", failed.Generations, null, failed.Reason));
                Finish($"node {node} failed: {failed.Reason}");
                break;
            case Status.Failure { Cause: AskTimeoutException }:
                _steps.Add(new ClusterListeners.NodeReloadStep(node, "failed", [], null, $"no answer within {_stepTimeout + TimeSpan.FromSeconds(10)}"));
                Finish($"node {node} did not answer within {_stepTimeout + TimeSpan.FromSeconds(10)}");
                break;
            case var other:
                var reason = other is Status.Failure f ? f.Cause.Message : $"unexpected answer {other.GetType().Name}";
                _steps.Add(new ClusterListeners.NodeReloadStep(node, "failed", [], null, reason));
                Finish($"node {node} failed: {reason}");
                break;
        }
    }

    private void Finish(string? failure)
    {
        if (failure is null && _reload.Listener is { } listener && _steps.All(s => s.Outcome == "not served"))
            failure = $"no node serves listener '{listener}'";
        var steps = _steps.Concat(_nodes.Skip(_steps.Count).Select(n => new ClusterListeners.NodeReloadStep(n.ToString(), "not started", [], null, null))).ToList();
        Context.Parent.Tell(new Finished(new ClusterListeners.RollingReloadReport(_reload.Listener, failure is null, steps, failure), _generation, _replyTo));
        Context.Stop(Self);
    }

    /// <summary>Sender: this actor, to its parent. The report, the generation the listener reached, and who asked.</summary>
    public sealed record Finished(ClusterListeners.RollingReloadReport Report, int? Generation, IActorRef ReplyTo);

    private sealed record StepAnswered(object Answer);

    private sealed class TimedOut
    {
        public static readonly TimedOut Instance = new();
        private TimedOut() { }
    }
}
