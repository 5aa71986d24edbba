using Akka.Actor;
using Akka.DistributedData;
using Akka.Event;
using ShardRuntime.Actors.Settings;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Cluster;

/// <summary>
/// Follows the replicated desired state (child <c>follow</c> of the cluster actor): holds this node's replica
/// (subscribed to the replicator; once the node is Up, read from a majority), resolves it for this node (its roles, its
/// listener-defaults and bind-address) and hands it to the coordinator, one apply at a time (states: idle, applying),
/// again after a refusal. Answers what the node follows and the desired state as it holds it.
/// </summary>
internal sealed class ClusterFollowerActor : UntypedActor, IWithTimers
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ShardRuntimeSettings _settings;
    private readonly IActorRef _coordinator;
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly IActorRef _replicator = DistributedData.Get(Context.System).Replicator;
    private readonly List<IActorRef> _followWaiters = new();
    private FollowerState _state;

    public ClusterFollowerActor(ShardRuntimeSettings settings, IActorRef coordinator)
    {
        _settings = settings;
        _coordinator = coordinator;
        _state = FollowerState.Initial(settings.Cluster.RetryInterval);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart()
    {
        _replicator.Tell(Dsl.Subscribe(ClusterListenersActor.Key, Self));
        var self = Self;
        // Once up, read the desired state from a majority (a node that just joined has none of it yet) and follow it,
        // even when it is empty: the coordinator of a successor waits for one state before it declines sockets.
        _cluster.RegisterOnMemberUp(() => self.Tell(SelfUp.Instance));
    }

    protected override void PostStop() => _replicator.Tell(Dsl.Unsubscribe(ClusterListenersActor.Key, Self));

    protected override void OnReceive(object message)
    {
        if (!Handle(message, Follow)) Unhandled(message);
    }

    /// <summary>An apply is on its way to the coordinator; <paramref name="dirty"/>: the state changed since it left.</summary>
    private UntypedReceive Applying(bool dirty) => message =>
    {
        if (message is Applied applied)
            OnApplied(applied, dirty);
        else if (!Handle(message, () => { if (!dirty) Become(Applying(dirty: true)); }))
            Unhandled(message);
    };

    /// <summary>The messages of every state; <paramref name="follow"/> is what a change of the desired state does in this one.</summary>
    private bool Handle(object message, Action follow)
    {
        switch (message)
        {
            case SelfUp:
                _replicator.Tell(Dsl.Get(ClusterListenersActor.Key, new ReadMajority(_settings.Cluster.WriteTimeout), SelfUp.Instance));
                return true;
            case IGetResponse { Request: SelfUp } read:
                if (read is GetSuccess found) _state = _state with { Desired = _state.Desired.Merge(found.Get(ClusterListenersActor.Key)) };
                else if (read is not NotFound) _log.Warning("The desired state could not be read from a majority of the nodes ({Response}); following this node's copy", read.GetType().Name);
                _state = _state with { Confirmed = null };
                follow();
                return true;
            case Changed changed when changed.Key.Equals(ClusterListenersActor.Key):
                _state = _state with { Desired = changed.Get(ClusterListenersActor.Key) };
                follow();
                return true;
            case Retry:
                follow();
                return true;
            case StateWritten written:
                // Read-your-writes: this node's view (and its coordinator) take the change before the writer hears back.
                _state = _state with { Desired = written.Desired };
                follow();
                written.ReplyTo.Tell(written.Reply);
                return true;
            case ClusterListeners.WaitUntilFollowing when _state.FollowedOnce:
                Sender.Tell(new ClusterListeners.Following(_state.Following));
                return true;
            case ClusterListeners.WaitUntilFollowing:
                _followWaiters.Add(Sender);
                return true;
            case ClusterListeners.GetDesiredState:
                Sender.Tell(new ClusterListeners.DesiredState(FollowDecisions.Sorted(_state.Desired)));
                return true;
            case ClusterListeners.GetNodeStatus:
                var following = _state.Removed ?? _state.Following;
                _coordinator.Ask<CoordinatorProtocol.NodeStatus>(CoordinatorProtocol.GetStatus.Instance, _settings.Cluster.StatusTimeout)
                    .PipeTo(Sender, success: node => new ClusterListeners.NodeStatusReply(node, following));
                return true;
            case ClusterListenersActor.NodeRemoved removed:
                _state = _state with { Removed = removed.Reason };
                return true;
            default:
                return false;
        }
    }

    /// <summary>Hands the desired state, resolved for this node, to the coordinator unless it has it already.</summary>
    private void Follow()
    {
        var roles = _cluster.SelfRoles.ToHashSet(StringComparer.Ordinal);
        var (overrides, problems) = FollowDecisions.Resolve(FollowDecisions.Sorted(_state.Desired), roles, _settings);
        if (!FollowDecisions.MustApply(_state.Confirmed, overrides))
        {
            _state = _state with { Following = FollowDecisions.Unchanged(problems) };
            return;
        }
        _coordinator.Ask<object>(new CoordinatorProtocol.ApplyClusterState(overrides), _settings.Cluster.WriteTimeout + _settings.Control.RequestTimeout)
            .PipeTo(Self, success: answer => new Applied(overrides, problems, answer), failure: e => new Applied(overrides, problems, new Status.Failure(e)));
        Become(Applying(dirty: false));
    }

    private void OnApplied(Applied applied, bool dirty)
    {
        var outcome = FollowDecisions.AfterApply(_state, applied.Overrides, applied.Problems, applied.Answer, _settings.Cluster.RetryInterval);
        if (outcome.Next.Following != _state.Following)
        {
            if (outcome.Refusal is { } reason)
                _log.Warning("The node's listeners do not follow the cluster's desired state: {Reason}; trying again", reason);
            else if (outcome.Problems is { Count: > 0 } problems)
                _log.Warning("Listeners follow the cluster's desired state, except: {Problems}", string.Join("; ", problems));
            else
                _log.Info("Listeners follow the cluster's desired state");
        }
        if (outcome.RetryIn is { } delay)
            Timers.StartSingleTimer(nameof(Retry), Retry.Instance, delay);
        _state = outcome.Next;
        if (_state.FollowedOnce)
        {
            foreach (var waiter in _followWaiters) waiter.Tell(new ClusterListeners.Following(_state.Following));
            _followWaiters.Clear();
        }
        Become(OnReceive);
        if (dirty) Follow();
    }

    /// <summary>
    /// Sender: the writer (<see cref="ClusterWriterActor"/>), once a change is stored. The follower takes
    /// <paramref name="Desired"/> (this node's replica with the change), hands it on to the coordinator, then passes
    /// <paramref name="Reply"/> on to <paramref name="ReplyTo"/>, so the writer's requester sees its change here. No reply.
    /// </summary>
    public sealed record StateWritten(LWWDictionary<string, ClusterListener> Desired, object Reply, IActorRef ReplyTo);

    /// <summary>The coordinator's answer to <see cref="CoordinatorProtocol.ApplyClusterState"/> (piped to self).</summary>
    private sealed record Applied(IReadOnlyList<CoordinatorProtocol.ClusterOverride> Overrides, IReadOnlyList<string> Problems, object Answer);

    /// <summary>This node is Up in the cluster.</summary>
    private sealed class SelfUp
    {
        public static readonly SelfUp Instance = new();
        private SelfUp() { }
    }

    /// <summary>Timer: try again to hand the desired state to the coordinator.</summary>
    private sealed class Retry
    {
        public static readonly Retry Instance = new();
        private Retry() { }
    }
}
