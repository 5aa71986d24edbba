using ShardRuntime.Actors.Cluster.Transport;
using System.Net;
using Akka.Actor;
using ShardRuntime.Actors.Listeners;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Loading;
using ShardRuntime.Runtime.Sockets;

namespace ShardRuntime.Actors.Coordination;

/// <summary>
/// The coordinator's registry: desired and actual state of every listener, their shards and sockets. It is an
/// argument of the coordinator's Props, not a field made by the actor, so a restart of the coordinator keeps
/// every socket, shard and connection and the new instance carries on with the same registry.
/// </summary>
internal sealed class CoordinatorState(UpgradeOptions upgrade, ClusterTransport transport)
{
    public readonly UpgradeOptions UpgradeOptions = upgrade;

    /// <summary>How other processes reach this node's actors (for status).</summary>
    public readonly ClusterTransport Transport = transport;
    /// <summary>Where the node is in its life; the coordinator's behaviour follows it.</summary>
    public NodeLife Life = new NodeLife.Created();

    public string? StartFailure;
    public readonly List<IActorRef> DrainRequesters = new();
    public readonly DateTimeOffset StartedAt = DateTimeOffset.UtcNow;

    /// <summary>The listener currently serving each name.</summary>
    public readonly Dictionary<string, ListenerState> Listeners = new(StringComparer.Ordinal);

    /// <summary>Listeners replaced or removed whose shards still drain.</summary>
    public readonly List<ListenerState> Retired = new();

    /// <summary>Every shard the node has (accepting or retiring), to find its listener when its group reports on it.</summary>
    public readonly Dictionary<ShardKey, (ListenerState Listener, ShardState Shard)> Shards = new();

    /// <summary>The actor of each reuseport group (one per bound endpoint, by <see cref="Coordinator.Describe"/>): the owner of its sockets.</summary>
    public readonly Dictionary<string, IActorRef> Groups = new(StringComparer.Ordinal);

    /// <summary>The number of the last group actor made (they are named by it).</summary>
    public int LastGroupId;

    /// <summary>Inherited sockets not yet adopted (start-up only: the rest are declined once the first settings are applied).</summary>
    public readonly List<(System.Net.Sockets.Socket Socket, Runtime.Upgrade.SocketLabel Label)> Inherited = upgrade.Inherited.ToList();

    /// <summary>Inodes of inherited sockets this node serves, and of those it declined (closed its copies).</summary>
    public readonly List<long> Adopted = new();
    public readonly List<long> Declined = new();

    /// <summary>
    /// This node took sockets from a predecessor that has not released them yet: it changes nothing in the shared
    /// reuseport groups (no steering program, no retiring of an adopted socket) until <see cref="Coordinator.PredecessorLetGo"/>.
    /// A fact about the sockets, beside the node's <see cref="Life"/>: the successor serves meanwhile.
    /// </summary>
    public bool PredecessorHolds = upgrade.DeferSocketFiles && upgrade.Inherited.Count > 0;

    /// <summary>Why the last upgrade did not happen.</summary>
    public string? LastUpgradeFailure;

    /// <summary>
    /// The listeners of the node's own configuration (the start-up settings, then each <c>ApplySettings</c> or reload of
    /// the file, and local <c>scale</c>s); the desired state is these with <see cref="ClusterOverrides"/> over them.
    /// </summary>
    public IReadOnlyList<Settings.ListenerSettings> Configured = [];

    /// <summary>
    /// The listeners as the configuration file last gave them (at start-up, then at each reload that read it), before
    /// any runtime <c>scale</c>: a reload keeps a runtime scale unless the file's count changed since (see
    /// <see cref="ReloadChanges.KeepRuntimeScale"/>).
    /// </summary>
    public IReadOnlyList<Settings.ListenerSettings> FromFile = [];

    /// <summary>The cluster's desired state as it applies to this node, by listener.</summary>
    public Dictionary<string, Coordinator.ClusterOverride> ClusterOverrides = new(StringComparer.Ordinal);

    /// <summary>The cluster-wide handler generation each listener last reloaded to (or had when first seen).</summary>
    public Dictionary<string, int> ClusterGenerations = new(StringComparer.Ordinal);

    /// <summary>Per listener name, the lowest shard id never issued: ids are never reused while the node runs (they name the actors).</summary>
    public readonly Dictionary<string, int> NextShardId = new(StringComparer.Ordinal);

    /// <summary>Per listener name, the lowest incarnation never issued (a listener replaced by a change gets a new one).</summary>
    public readonly Dictionary<string, int> NextIncarnation = new(StringComparer.Ordinal);

}

/// <summary>One listener: its settings, handler and budget, desired shard count and its shards.</summary>
internal sealed class ListenerState
{
    public ListenerState(ListenerSettings settings, HandlerRegistry handlers, int incarnation = 1,
        Runtime.Connections.IConnectionStreamLayer? streamLayer = null, Runtime.Tls.TlsServer? tls = null)
    {
        Settings = settings;
        Id = new Reconciliation.ListenerId(settings.Name, incarnation);
        Desired = settings.EffectiveShards;
        Shared = new ShardListener(settings, handlers, new ConnectionBudget(settings.MaxConnections), streamLayer, tls);
    }

    public string Name => Settings.Name;

    /// <summary>Its name and incarnation (a listener replaced by a change of its settings is a new incarnation).</summary>
    public Reconciliation.ListenerId Id { get; }
    public ListenerSettings Settings { get; }

    /// <summary>What its shards share: settings, handler generations (disposed once the listener is retired and its last shard stopped), connection budget and TLS server side.</summary>
    public ShardListener Shared { get; }
    public HandlerRegistry Handlers => Shared.Handlers;
    public int Desired { get; set; }
    /// <summary>When its current handler generation was loaded (created or last reloaded).</summary>
    public DateTimeOffset LoadedAt { get; set; } = DateTimeOffset.UtcNow;
    public bool Retired { get; set; }
    public IPEndPoint? BoundEndPoint { get; set; }
    public Dictionary<int, ShardState> Shards { get; } = new();
    public int ActiveCount => Shards.Values.Count(s => !s.Retiring);
}

/// <summary>One shard as the coordinator sees it: what it decided about it and what its group reported. The socket is the group's.</summary>
internal sealed class ShardState(ShardKey key, long inode, IPEndPoint endPoint, IActorRef group, bool pinned)
{
    public ShardKey Key { get; } = key;

    /// <summary>The kernel's inode of its socket: what status shows, and what stays the same across an upgrade.</summary>
    public long Inode { get; } = inode;
    public IPEndPoint EndPoint { get; } = endPoint;

    /// <summary>The actor of its reuseport group, which owns the socket and the shard actor.</summary>
    public IActorRef Group { get; } = group;

    /// <summary>Another process that never lets go holds its socket (systemd): it never retires while the node runs.</summary>
    public bool Pinned { get; } = pinned;
    public ShardCounters Counters { get; } = new();

    /// <summary>The coordinator told its group to retire it.</summary>
    public bool Retiring { get; set; }

    /// <summary>Parked while a successor is watched (status: standby).</summary>
    public bool Parked { get; set; }

    /// <summary>The node let go of it to a successor (its copy closes; the successor accepts on the socket).</summary>
    public bool LetGo { get; set; }

    /// <summary>Its group closed this process's copy of the socket.</summary>
    public bool SocketClosed { get; set; }
}
