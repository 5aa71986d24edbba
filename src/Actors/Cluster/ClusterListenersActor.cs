using Akka.Actor;
using Akka.DistributedData;
using Akka.Event;
using ShardRuntime.Actors.Settings;

namespace ShardRuntime.Actors.Cluster;

/// <summary>
/// The node's cluster actor (<c>/user/shard-runtime-cluster</c>, the path other nodes address): one child per
/// responsibility, and each message passed on (with its sender) to the child that owns it: following the replicated
/// desired state (<see cref="ClusterFollowerActor"/>), writing changes (<see cref="ClusterWriterActor"/>), the status
/// of the cluster (<see cref="ClusterStatusActor"/>), running rolling reloads (<see cref="RollingReloadActor"/>) and
/// this node's turn in one (<see cref="NodeReloadActor"/>). It holds nothing else; when the node is removed from the
/// cluster it tells every child why (states: member, removed).
/// </summary>
internal sealed class ClusterListenersActor : UntypedActor
{
    /// <summary>The replicated desired state: listener name -> <see cref="ClusterListener"/>, last writer wins per listener.</summary>
    public static readonly LWWDictionaryKey<string, ClusterListener> Key = new("shard-runtime-listeners");

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly IActorRef _follower;
    private readonly IActorRef _writer;
    private readonly IActorRef _status;
    private readonly IActorRef _rollingReload;
    private readonly IActorRef _nodeReload;

    public ClusterListenersActor(ShardRuntimeSettings settings, IActorRef coordinator)
    {
        var cluster = settings.Cluster;
        _follower = Context.ActorOf(Props.Create(() => new ClusterFollowerActor(settings, coordinator)), "follow");
        _writer = Context.ActorOf(Props.Create(() => new ClusterWriterActor(settings, coordinator, _follower)), "write");
        _status = Context.ActorOf(Props.Create(() => new ClusterStatusActor(cluster.StatusTimeout)), "status");
        _rollingReload = Context.ActorOf(Props.Create(() => new RollingReloadActor(cluster, _writer)), "rolling-reload");
        _nodeReload = Context.ActorOf(Props.Create(() => new NodeReloadActor(coordinator, cluster.ReloadStepTimeout)), "node-reload");
    }

    protected override void PreStart()
    {
        var self = Self;
        _cluster.RegisterOnMemberRemoved(() => self.Tell(SelfRemoved.Instance));
        var config = Context.System.Settings.Config;
        var seeds = _cluster.Settings.SeedNodes;
        var resolver = config.GetString("akka.cluster.downing-provider-class", "").Contains("SplitBrainResolver", StringComparison.Ordinal)
            ? $"split-brain resolver {config.GetString("akka.cluster.split-brain-resolver.active-strategy", "?")} " +
              $"(stable after {config.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after", TimeSpan.Zero)}), " +
              (_cluster.Settings.RunCoordinatedShutdownWhenDown ? "a downed node shuts down" : "a downed node serves on")
            : "no split-brain resolver";
        _log.Info("Cluster node {Address} with roles [{Roles}]; {Seeds}; {Resolver}; the desired state of listeners is replicated to every node (gossip every {Gossip})",
            _cluster.SelfAddress, string.Join(", ", _cluster.SelfRoles.Order(StringComparer.Ordinal)),
            seeds.Count == 0 ? "no seed nodes: it forms a cluster alone" : $"seed nodes {string.Join(", ", seeds)}",
            resolver, config.GetTimeSpan("akka.cluster.distributed-data.gossip-interval", TimeSpan.Zero));
    }

    protected override void OnReceive(object message)
    {
        if (message is SelfRemoved)
        {
            var reason = $"this node was removed from the cluster at {DateTimeOffset.UtcNow:HH:mm:ss} (downed, or it left); it serves on with the last desired state it knew; restart or upgrade it to join again";
            // Leaving is part of every shutdown; only a removal of a node that runs on is news.
            if (CoordinatedShutdown.Get(Context.System).ShutdownReason is null)
                _log.Warning("{Removed}", reason);
            var removed = new NodeRemoved(reason);
            foreach (var child in new[] { _follower, _writer, _status, _rollingReload }) child.Tell(removed);
            Become(Route);
            return;
        }
        Route(message);
    }

    /// <summary>Passes a message on to the child that owns it, with its sender.</summary>
    private void Route(object message)
    {
        var owner = message switch
        {
            ClusterListeners.ScaleListener or ClusterListeners.SetListener or ClusterListeners.RemoveListener => _writer,
            ClusterListeners.GetDesiredState or ClusterListeners.WaitUntilFollowing or ClusterListeners.GetNodeStatus => _follower,
            ClusterListeners.GetClusterStatus => _status,
            ClusterListeners.RollingReload => _rollingReload,
            ClusterListeners.ReloadNode => _nodeReload,
            _ => null,
        };
        if (owner is null) Unhandled(message);
        else owner.Forward(message);
    }

    /// <summary>
    /// Sender: the cluster actor, to its children, once this node was removed from the cluster (downed, or it left).
    /// <paramref name="Reason"/> is what the node says from then on: it refuses changes and rolling reloads with it and
    /// shows it in the status. No reply.
    /// </summary>
    internal sealed record NodeRemoved(string Reason);

    /// <summary>This node left the cluster's membership (it was downed, or it left).</summary>
    private sealed class SelfRemoved
    {
        public static readonly SelfRemoved Instance = new();
        private SelfRemoved() { }
    }
}
