using ShardRuntime.Actors.Coordination;
using System.Collections.Immutable;
using Akka.Actor;
using Akka.DistributedData;
using Akka.Event;

namespace ShardRuntime.Actors.Cluster;

/// <summary>
/// Runs rolling reloads (child <c>rolling-reload</c> of the cluster actor), one at a time (states: idle, preparing,
/// running): refuses one while a member is unreachable or joining, reads the listener's next generation from this
/// node's replica, then asks each Up node in address order to reload and drain (<see cref="ClusterListeners.ReloadNode"/>),
/// starts the next only after the previous answered that it is done, and stops at the first failure or when
/// <c>cluster.rolling-reload.timeout</c> runs out. The report goes to the requester; for one listener that every node
/// reloaded, by way of the writer, which records the new generation first. A run that throws is lost (its requester's
/// ask times out) and the actor restarts idle: a run is never started over from its first node.
/// </summary>
internal sealed class RollingReloadActor : UntypedActor, IWithTimers
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Settings.ClusterSettings _settings;
    private readonly IActorRef _writer;
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly IActorRef _replicator = DistributedData.Get(Context.System).Replicator;
    private string? _removed;
    private int _runs;

    public RollingReloadActor(Settings.ClusterSettings settings, IActorRef writer)
    {
        _settings = settings;
        _writer = writer;
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>The longest the rolling reload waits for one node: the node bounds its own step by the step timeout; the margin lets its answer arrive first.</summary>
    private TimeSpan AskTimeout => _settings.ReloadStepTimeout + TimeSpan.FromSeconds(10);

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case ClusterListeners.RollingReload reload:
                Prepare(reload);
                break;
            default:
                Common(message);
                break;
        }
    }

    private void Prepare(ClusterListeners.RollingReload reload)
    {
        var members = ClusterMember.Of(_cluster.State);
        if (RollingReloadDecisions.Refusal(reload, _removed, members) is { } refusal)
        {
            Sender.Tell(CommandFailedException.Reply(reload, refusal));
            return;
        }
        var run = new RollingReloadRun(++_runs, reload, Sender, RollingReloadDecisions.Nodes(members), null, []);
        _log.Info("Rolling reload of {What} over {Count} nodes: {Nodes}", reload.Listener is null ? "every listener" : $"listener {reload.Listener}",
            run.Nodes.Count, string.Join(", ", run.Nodes));
        if (reload.Listener is null)
        {
            Start(run);
            return;
        }
        _replicator.Tell(Dsl.Get(ClusterListenersActor.Key, ReadLocal.Instance, new ReadGeneration(run.Id)));
        Become(Preparing(run));
    }

    /// <summary>Reading the listener's generation from this node's replica.</summary>
    private UntypedReceive Preparing(RollingReloadRun run) => message =>
    {
        if (message is IGetResponse { Request: ReadGeneration read } response && read.Run == run.Id)
        {
            var current = response is GetSuccess found && found.Get(ClusterListenersActor.Key).TryGetValue(run.Request.Listener!, out var entry) ? entry : null;
            Start(run with { Generation = RollingReloadDecisions.NextGeneration(run.Request.Listener, current) });
        }
        else
            Busy(message);
    };

    private void Start(RollingReloadRun run)
    {
        Timers.StartSingleTimer(nameof(TimedOut), new TimedOut(run.Id), _settings.ReloadTimeout);
        Next(run);
    }

    /// <summary>Asks the next node to reload, or finishes when every node has.</summary>
    private void Next(RollingReloadRun run)
    {
        if (run.Current is not { } node)
        {
            Finish(run, null);
            return;
        }
        _log.Info("Rolling reload: node {Node} ({Index} of {Count})", node, run.Steps.Count + 1, run.Nodes.Count);
        var id = run.Id;
        Context.ActorSelection(new RootActorPath(node) / "user" / ClusterListeners.ActorName)
            .Ask<object>(new ClusterListeners.ReloadNode(run.Request.Listener, run.Generation), AskTimeout)
            .PipeTo(Self, success: answer => new StepAnswered(id, answer), failure: e => new StepAnswered(id, new Status.Failure(e)));
        Become(Running(run));
    }

    /// <summary>Waiting for the current node's answer.</summary>
    private UntypedReceive Running(RollingReloadRun run) => message =>
    {
        switch (message)
        {
            case StepAnswered answered when answered.Run == run.Id:
                var (next, failure) = RollingReloadDecisions.Answered(run, answered.Answer, AskTimeout);
                if (failure is null) Next(next);
                else Finish(next, failure);
                break;
            case TimedOut timedOut when timedOut.Run == run.Id:
                var (last, reason) = RollingReloadDecisions.TimedOut(run, _settings.ReloadTimeout);
                Finish(last, reason);
                break;
            default:
                Busy(message);
                break;
        }
    };

    private void Finish(RollingReloadRun run, string? failure)
    {
        Timers.Cancel(nameof(TimedOut));
        var report = RollingReloadDecisions.Report(run, failure);
        _log.Info("Rolling reload {Outcome}: {Steps}", report.Completed ? "completed" : "stopped",
            string.Join("; ", report.Nodes.Select(n => $"{n.Address} {n.Outcome}{(n.Reason is null ? "" : $" ({n.Reason})")}")));
        // Every node runs the new generation: the desired state records it (a node that reloaded has it already).
        if (report.Completed && report.Listener is not null && run.Generation is { } generation)
            _writer.Tell(new ClusterWriterActor.RecordGeneration(report, generation, run.ReplyTo));
        else
            run.ReplyTo.Tell(report);
        Become(OnReceive);
    }

    /// <summary>A rolling reload is preparing or running: another is refused; stale answers of an earlier run are dropped.</summary>
    private void Busy(object message)
    {
        if (message is ClusterListeners.RollingReload reload)
            Sender.Tell(CommandFailedException.Reply(reload, "a rolling reload is in progress"));
        else
            Common(message);
    }

    private void Common(object message)
    {
        switch (message)
        {
            case ClusterListenersActor.NodeRemoved removed:
                _removed = removed.Reason;
                break;
            case StepAnswered or TimedOut or IGetResponse { Request: ReadGeneration }:
                break; // of an earlier run
            default:
                Unhandled(message);
                break;
        }
    }

    /// <summary>Request context of the replica read for the listener's next generation.</summary>
    private sealed record ReadGeneration(int Run);

    /// <summary>A node's answer to <see cref="ClusterListeners.ReloadNode"/> (piped to self).</summary>
    private sealed record StepAnswered(int Run, object Answer);

    /// <summary>Timer: the whole rolling reload ran out of time.</summary>
    private sealed record TimedOut(int Run);
}
