using Akka.Actor;
using Akka.Event;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Loading;

namespace ShardRuntime.Actors.Listeners;

/// <summary>
/// Protocol of a listener shard actor (<c>/user/shard-runtime/group-&lt;n&gt;/listener-&lt;name&gt;-&lt;id&gt;</c>): it
/// accepts on one listening socket of its group, and spawns one connection actor per accepted connection as its child.
/// </summary>
public static class Listener
{
    internal static Props Props(ShardListener listener, ShardSocket socket, ShardCounters counters) =>
        Akka.Actor.Props.Create(() => new ListenerShardActor(listener, socket, counters));

    /// <summary>Actor name of a shard.</summary>
    public static string ActorName(string listener, int shardId) => $"listener-{listener}-{shardId}";

    /// <summary>
    /// Sender: the shard's group. The shard retires as <paramref name="Mode"/> says: with <see cref="RetireMode.DrainQueue"/>
    /// it keeps accepting what is queued until the group closes its socket (the group has steered new connections to
    /// the port's other sockets, or there are none and the port is served until it goes quiet); otherwise the group
    /// closes the socket right after. Either way the shard then lets its open connections finish, ends the rest after
    /// <paramref name="DrainTimeout"/>, and stops; the group watches it. Told again, a nearer deadline wins. No reply.
    /// </summary>
    public sealed record Retire(RetireMode Mode, TimeSpan DrainTimeout);

    /// <summary>
    /// Sender: the shard's group, once a successor took the node's sockets over. The shard stops accepting and keeps its
    /// socket open (the successor accepts from the same kernel queue) and its connections as they are, until
    /// <see cref="Resume"/> (the successor died within the stability period) or <see cref="Retire"/> (it did not). No reply.
    /// </summary>
    public sealed class Park
    {
        /// <summary>The one instance (the message carries no data).</summary>
        public static readonly Park Instance = new();
        private Park() { }
    }

    /// <summary>Sender: the shard's group, to a parked shard whose successor died: it accepts again. No reply.</summary>
    public sealed class Resume
    {
        /// <summary>The one instance (the message carries no data).</summary>
        public static readonly Resume Instance = new();
        private Resume() { }
    }

    /// <summary>Sender: the shard's group, which closed the retiring shard's socket: the shard's connections finish, then it stops. No reply.</summary>
    public sealed class SocketClosed
    {
        /// <summary>The one instance (the message carries no data).</summary>
        public static readonly SocketClosed Instance = new();
        private SocketClosed() { }
    }

    /// <summary>
    /// Sender: the shard's group (from the coordinator), after a reload of the listener's handler. The shard passes it on to its connections
    /// (<see cref="Connections.Connection.RetireGeneration"/>): those of older generations get the drain timeout to
    /// finish, then close. No reply.
    /// </summary>
    public sealed record GenerationChanged(int Current, TimeSpan DrainTimeout);

    /// <summary>Sender: one of the shard's connections, when it ended (its socket is closed). Not logged as a dead letter (a stopping shard gets it). Internal.</summary>
    internal sealed class ConnectionEnded : IDeadLetterSuppression
    {
        public static readonly ConnectionEnded Instance = new();
        private ConnectionEnded() { }
    }

    /// <summary>Sender: the shard's own timer, to look over its connections' idle time and linger deadlines.</summary>
    internal sealed class SweepConnections
    {
        public static readonly SweepConnections Instance = new();
        private SweepConnections() { }
    }

    /// <summary>Sender: the shard's <see cref="ShardSocket"/> when a pending accept completes. No reply.</summary>
    internal sealed class AcceptCompleted
    {
        public static readonly AcceptCompleted Instance = new();
        private AcceptCompleted() { }
    }

    /// <summary>Sender: the listener's connection budget when a slot frees up after the shard found none. No reply.</summary>
    internal sealed class CapacityAvailable
    {
        public static readonly CapacityAvailable Instance = new();
        private CapacityAvailable() { }
    }

    /// <summary>Sender: the shard itself, after a batch of accepts, to accept on once other messages had their turn.</summary>
    internal sealed class AcceptMore
    {
        public static readonly AcceptMore Instance = new();
        private AcceptMore() { }
    }

    /// <summary>Sender: the shard's own timer, when an accept back-off (EMFILE and the like) is over, or the shard itself after a restart.</summary>
    internal sealed class ResumeAccepting
    {
        public static readonly ResumeAccepting Instance = new();
        private ResumeAccepting() { }
    }

    /// <summary>Sender: the shard's own timer, when a retiring shard's drain deadline passes.</summary>
    internal sealed class DrainDeadline
    {
        public static readonly DrainDeadline Instance = new();
        private DrainDeadline() { }
    }

    /// <summary>
    /// Sender: the readiness engine's thread (<see cref="Connections.ConnectionReadiness"/>), when a connection waiting in
    /// the shard became readable; the connection is queued in <see cref="ShardSocket.Readable"/>. Receiver: the shard,
    /// which takes every queued connection. No reply.
    /// </summary>
    internal sealed class ConnectionsReadable
    {
        public static readonly ConnectionsReadable Instance = new();
        private ConnectionsReadable() { }
    }
}
