using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Loading;
using ShardRuntime.Runtime.Sockets;
using ShardRuntime.Runtime.Tls;

namespace ShardRuntime.Actors.Listeners;

/// <summary>
/// Protocol of a reuseport group's actor (<c>/user/shard-runtime/group-&lt;n&gt;</c>): the one owner of the listening
/// sockets on one endpoint (a kernel reuseport group). It takes the sockets the coordinator bound or adopted, keeps the
/// model of the group's member order, attaches the steering program, decides when a retiring socket may close and
/// closes it. Its children are the shards that accept on the sockets. The coordinator decides what the group holds
/// (which shards join, which retire and how); the group carries it out and reports what happened.
/// </summary>
public static class Group
{
    internal static Props Props(GroupState state, ShardRuntimeSettings settings) =>
        Akka.Actor.Props.Create(() => new ReuseportGroupActor(state, settings));

    /// <summary>Actor name of the <paramref name="id"/>th group the coordinator made (endpoints are known only once bound).</summary>
    internal static string ActorName(int id) => $"group-{id}";

    /// <summary>
    /// Sender: the coordinator. <paramref name="Shards"/> join the group: their sockets were just bound (or adopted from a
    /// predecessor or systemd), in the order they joined the kernel's group, and are the group's from now on. It starts
    /// a shard actor on each and steers the group. No reply (a socket the group could not take is reported as a
    /// <see cref="ShardStopped"/>).
    /// </summary>
    internal sealed record Join(IReadOnlyList<JoiningShard> Shards);

    /// <summary>One socket joining a group, with the shard that will accept on it.</summary>
    /// <param name="Socket">The listening socket.</param>
    /// <param name="Key">The shard that will accept on it.</param>
    /// <param name="Listener">The listener it serves.</param>
    /// <param name="Counters">The shard's counters, carried over.</param>
    /// <param name="Pinned">Another process that never lets go holds the socket (systemd).</param>
    internal sealed record JoiningShard(Socket Socket, ShardKey Key, ShardListener Listener, ShardCounters Counters, bool Pinned);

    /// <summary>
    /// Sender: the coordinator. The shards retire as <paramref name="Mode"/> says (see <see cref="RetireMode"/>); their
    /// open connections get <paramref name="DrainTimeout"/>. Shards already retiring take a nearer deadline, and a
    /// <see cref="RetireMode.CloseNow"/> or <see cref="RetireMode.LetGo"/> closes their sockets now. No reply: each socket
    /// closed is reported (<see cref="SocketClosed"/>), then each shard that stopped (<see cref="ShardStopped"/>).
    /// </summary>
    internal sealed record Retire(IReadOnlyList<ShardKey> Shards, RetireMode Mode, TimeSpan DrainTimeout);

    /// <summary>Sender: the coordinator. Every accepting shard parks (a successor accepts on the same sockets). No reply.</summary>
    internal sealed class Park
    {
        public static readonly Park Instance = new();
        private Park() { }
    }

    /// <summary>Sender: the coordinator. Every parked shard accepts again, and the group is steered again. No reply.</summary>
    internal sealed class Resume
    {
        public static readonly Resume Instance = new();
        private Resume() { }
    }

    /// <summary>
    /// Sender: the coordinator. The group may be steered from now on (a successor steers nothing until its predecessor
    /// let go of the shared groups), and its program is attached again (a successor may have attached its own). No reply.
    /// </summary>
    internal sealed class Steer
    {
        public static readonly Steer Instance = new();
        private Steer() { }
    }

    /// <summary>Sender: the coordinator. Passed on to the named shards (a reload of their listener's handler). No reply.</summary>
    internal sealed record GenerationChanged(IReadOnlyList<ShardKey> Shards, Listener.GenerationChanged Change);

    /// <summary>Sender: the coordinator, for an upgrade. Reply: <see cref="Sockets"/>, the accepting members.</summary>
    internal sealed class GetSockets
    {
        public static readonly GetSockets Instance = new();
        private GetSockets() { }
    }

    /// <summary>Reply to <see cref="GetSockets"/>: each accepting member with its position in the kernel's group (-1: not steered).</summary>
    internal sealed record Sockets(IReadOnlyList<(ShardKey Key, Socket Socket, int Position)> Members);

    /// <summary>Sender: the group, to the coordinator. It closed this process's copy of the shard's socket. No reply.</summary>
    internal sealed record SocketClosed(ShardKey Shard);

    /// <summary>Sender: the group, to the coordinator. The shard stopped for good (retired, or its socket could not be taken); its socket is closed. No reply.</summary>
    internal sealed record ShardStopped(ShardKey Shard);
}

/// <summary>A shard as its listener names it: shard ids are unique per listener name while the node runs.</summary>
internal readonly record struct ShardKey(string Listener, int ShardId)
{
    public override string ToString() => $"{Listener}/{ShardId}";
}

/// <summary>
/// What the shards of one listener share: its settings, handler generations, connection budget, the stream layer its
/// connections go through (TLS, or a layer from the catalog; null for plain TCP) and, for a TLS listener, its server
/// side (the coordinator swaps its material at a reload; the layer runs <see cref="TlsServer.HandshakeAsync"/>).
/// </summary>
internal sealed record ShardListener(ListenerSettings Settings, HandlerRegistry Handlers, ConnectionBudget Budget,
    Runtime.Connections.IConnectionStreamLayer? StreamLayer = null, TlsServer? Tls = null);

/// <summary>
/// A group actor's state: the sockets and the model of the kernel group. It is an argument of the group's Props, so a
/// restart of the group keeps every socket, shard and connection.
/// </summary>
internal sealed class GroupState(IPEndPoint endPoint, TransportProtocol protocol, bool steeringAllowed)
{
    public IPEndPoint EndPoint { get; } = endPoint;
    public TransportProtocol Protocol { get; } = protocol;

    /// <summary>The kernel's member order, for steering; emptied when the group became another process's to steer.</summary>
    public ReuseportGroup Model { get; } = new();

    public Dictionary<ShardKey, GroupMember> Members { get; } = new();

    /// <summary>False while a successor shares the group with its predecessor, which steers it.</summary>
    public bool SteeringAllowed { get; set; } = steeringAllowed;

    /// <summary>This process let go of the group (a successor steers it): the model is dropped, nothing is steered any more.</summary>
    public bool LetGo { get; set; }

    public bool Started { get; set; }
}

/// <summary>One socket of a group, its shard and, once it retires, how and its drain.</summary>
internal sealed class GroupMember(IShardSocket socket, ShardKey key, ShardListener listener, ShardCounters counters)
{
    public IShardSocket Socket { get; } = socket;
    public ShardKey Key { get; } = key;
    public ShardListener Listener { get; } = listener;
    public ShardCounters Counters { get; } = counters;
    public IActorRef Actor { get; set; } = ActorRefs.Nobody;

    /// <summary>How it retires, or null while it serves.</summary>
    public RetireMode? Retiring { get; set; }

    /// <summary>The drain of its accept queue (<see cref="RetireMode.DrainQueue"/>), until the socket closes.</summary>
    public ListenerDrain? Drain { get; set; }
}
