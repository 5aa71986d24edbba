using ShardRuntime.Actors.Coordination;
using Akka.Actor;
using Akka.DistributedData;
using Akka.Event;
using ShardRuntime.Actors.Settings;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Cluster;

/// <summary>
/// Writes changes of the desired state (child <c>write</c> of the cluster actor): checks a change against this node's
/// replica and coordinator, writes it with the consistency the cluster can give (all nodes when all are reachable, else
/// a majority; none below a majority), and answers once this node's follower has the change. Every change in flight
/// is an immutable <see cref="WriteRequest"/> that travels as the replicator's request context; the actor itself holds
/// only whether the node is still a member (states: member, removed).
/// </summary>
internal sealed class ClusterWriterActor : UntypedActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ShardRuntimeSettings _settings;
    private readonly IActorRef _coordinator;
    private readonly IActorRef _follower;
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly IActorRef _replicator = DistributedData.Get(Context.System).Replicator;

    public ClusterWriterActor(ShardRuntimeSettings settings, IActorRef coordinator, IActorRef follower)
    {
        _settings = settings;
        _coordinator = coordinator;
        _follower = follower;
    }

    protected override void OnReceive(object message) => Handle(message, removed: null);

    /// <summary>The node was removed from the cluster: every change is refused with <paramref name="reason"/>.</summary>
    private UntypedReceive Removed(string reason) => message => Handle(message, reason);

    private void Handle(object message, string? removed)
    {
        switch (message)
        {
            case ClusterListeners.ScaleListener or ClusterListeners.SetListener or ClusterListeners.RemoveListener:
                var members = ClusterMember.Of(_cluster.State);
                var (request, refusal) = WriteDecisions.Request((ClusterListeners.ICommand)message, Sender, DateTimeOffset.UtcNow, members, _settings);
                if (request is null) Sender.Tell(CommandFailedException.Reply((ClusterListeners.ICommand)message, refusal!));
                else _replicator.Tell(Dsl.Get(ClusterListenersActor.Key, ReadLocal.Instance, new Check(request)));
                break;
            case IGetResponse { Request: Check check } read:
                OnChecked(check.Request, read is GetSuccess found ? found.Get(ClusterListenersActor.Key) : LWWDictionary<string, ClusterListener>.Empty, removed);
                break;
            case Known known:
                if (WriteDecisions.UnknownRefusal(known.Request, known.Listeners, known.Desired, _settings.Control.RequestTimeout) is { } unknown)
                    Fail(known.Request, unknown);
                else
                    Write(known.Request, removed);
                break;
            case RecordGeneration record:
                var command = new ClusterListeners.RollingReload(record.Report.Listener);
                Write(new WriteRequest(command, record.ReplyTo, record.Report.Listener!, new ListenerChange.RecordGeneration(record.Generation),
                    DateTimeOffset.UtcNow, Report: record.Report), removed);
                break;
            case IUpdateResponse { Request: WriteRequest write } response:
                OnUpdated(write, response);
                break;
            case GetSuccess { Request: ReadBack back } read:
                var desired = read.Get(ClusterListenersActor.Key);
                var stored = desired.TryGetValue(back.Request.Listener, out var entry) ? entry : null;
                _log.Info("Cluster listener {Listener} changed ({Command}): {State}; stored by {StoredBy} of {Nodes} nodes", back.Request.Listener,
                    back.Request.Command.GetType().Name, stored?.Describe(), back.Request.All ? "all" : "a majority", back.Request.Nodes);
                _follower.Tell(new ClusterFollowerActor.StateWritten(desired, WriteDecisions.Reply(back.Request, stored, null), back.Request.ReplyTo));
                break;
            case IGetResponse { Request: ReadBack back }:
                back.Request.ReplyTo.Tell(WriteDecisions.Reply(back.Request, null, null));
                break;
            case ClusterListenersActor.NodeRemoved nodeRemoved:
                Become(Removed(nodeRemoved.Reason));
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    /// <summary>This node's replica read: refuse a change of a removed listener; check that the listener is known (here or in the desired state) when asked to.</summary>
    private void OnChecked(WriteRequest request, LWWDictionary<string, ClusterListener> desired, string? removed)
    {
        if (WriteDecisions.RemovedRefusal(request, desired) is { } refusal)
        {
            Fail(request, refusal);
            return;
        }
        if (!request.RequireKnown || desired.ContainsKey(request.Listener))
        {
            Write(request, removed);
            return;
        }
        // Known here? The coordinator's listeners (the file's, as last reloaded) say.
        var names = desired.Keys.ToList();
        _coordinator.Ask<CoordinatorProtocol.NodeStatus>(CoordinatorProtocol.GetStatus.Instance, _settings.Control.RequestTimeout)
            .PipeTo(Self, success: status => new Known(request, status.Listeners.Select(l => l.Name).ToList(), names),
                failure: _ => new Known(request, null, names));
    }

    private void Write(WriteRequest request, string? removed)
    {
        if (removed is not null)
        {
            Fail(request, $"nothing was written: {removed}");
            return;
        }
        var (counted, refusal) = WriteDecisions.Consistency(request, ClusterMember.Of(_cluster.State), _cluster.SelfAddress, _cluster.SelfMember.Status);
        if (counted is null) Fail(request, refusal!);
        else Send(counted);
    }

    private void Send(WriteRequest request)
    {
        var timeout = _settings.Cluster.WriteTimeout;
        IWriteConsistency consistency = request.All ? new WriteAll(timeout) : new WriteMajority(timeout);
        var self = _cluster.SelfUniqueAddress;
        _replicator.Tell(Dsl.Update(ClusterListenersActor.Key, LWWDictionary<string, ClusterListener>.Empty, consistency, request,
            desired => WriteDecisions.Modify(desired, request, self)));
    }

    private void OnUpdated(WriteRequest request, IUpdateResponse response)
    {
        switch (WriteDecisions.AfterUpdate(request, response, _settings.Cluster.WriteTimeout))
        {
            case UpdateOutcome.Again again:
                Send(again.Request);
                break;
            case UpdateOutcome.Failed failed:
                _log.Warning("Cluster listener {Listener} ({Command}): {Failure}", request.Listener, request.Command.GetType().Name, failed.Reason);
                request.ReplyTo.Tell(WriteDecisions.Reply(request, null, failed.Reason));
                break;
            default:
                // Read-your-writes: the reply goes by way of the follower, which takes this replica first.
                _replicator.Tell(Dsl.Get(ClusterListenersActor.Key, ReadLocal.Instance, new ReadBack(request)));
                break;
        }
    }

    private static void Fail(WriteRequest request, string reason) =>
        request.ReplyTo.Tell(WriteDecisions.Reply(request, null, reason));

    /// <summary>
    /// Sender: the rolling reload (<see cref="RollingReloadActor"/>), once every node reloaded one listener. Records
    /// <paramref name="Generation"/> as the listener's handler generation in the desired state (never lowering it).
    /// Reply, to <paramref name="ReplyTo"/>: <paramref name="Report"/>, marked not completed when the write failed.
    /// </summary>
    public sealed record RecordGeneration(ClusterListeners.RollingReloadReport Report, int Generation, IActorRef ReplyTo);

    /// <summary>Request context of the replica read before a change is written.</summary>
    private sealed record Check(WriteRequest Request);

    /// <summary>Request context of the replica read after a change was stored.</summary>
    private sealed record ReadBack(WriteRequest Request);

    /// <summary>The listeners the coordinator has (null: it did not answer) and the desired state's, for a change that must name a known one (piped to self).</summary>
    private sealed record Known(WriteRequest Request, IReadOnlyList<string>? Listeners, IReadOnlyList<string> Desired);
}
