using Akka.Actor;
using Akka.Event;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Loading;

namespace ShardRuntime.Actors.Listener;

/// <summary>
/// Protocol of a listener shard actor (<c>/user/shard-runtime/listener-&lt;name&gt;-&lt;id&gt;</c>): it owns one
/// listening socket, accepts, and spawns one connection actor per accepted connection as its child.
/// </summary>
public static class Listener
{
    internal static Props Props(
        ListenerSettings settings,
        ShardSocket socket,
        HandlerRegistry handlers,
        ConnectionBudget budget,
        ShardCounters counters) =>
        Akka.Actor.Props.Create(() => new ListenerShardActor(settings, socket, handlers, budget, counters));

    /// <summary>Actor name of a shard.</summary>
    public static string ActorName(string listener, int shardId) => $"listener-{listener}-{shardId}";

    /// <summary>
    /// Sender: the coordinator. The shard retires. With <paramref name="DrainQueue"/> it keeps accepting until its
    /// accept queue has stayed empty for the quiet period (bounded by retire-queue-timeout), so no queued connection is
    /// reset, then closes the socket: the coordinator has steered new connections to the other sockets of the port,
    /// or, for a listener removed altogether, there are none and the port is served until it goes quiet. Without it
    /// (shutdown) it closes the socket at once. Either way it then lets its open connections finish, aborts the rest after
    /// <paramref name="DrainTimeout"/>, and stops; the coordinator watches it. Told again, a nearer deadline wins and
    /// a retire without DrainQueue closes the socket at once. The shard does not close the socket itself: it asks the
    /// coordinator (<see cref="ReadyToClose"/>), which closes it and updates its model of the reuseport group in one
    /// step, so the model follows the kernel's order of closes, and answers <see cref="SocketClosed"/>.
    /// </summary>
    /// <param name="Graceful">
    /// At the deadline, connections still open are closed gracefully first (as those of a retired handler generation:
    /// FIN after what is queued) and only aborted once the listener's linger-timeout (and a second) has passed too.
    /// Used when the node hands its sockets to a successor.
    /// </param>
    public sealed record Retire(TimeSpan DrainTimeout, bool DrainQueue, bool Graceful = false);

    /// <summary>
    /// Sender: a retiring shard, to the coordinator, once its accept queue is drained (or it must close anyway).
    /// The coordinator closes the listening socket, updates its model of the reuseport group, re-steers, and
    /// answers <see cref="SocketClosed"/> (or <see cref="DrainAgain"/> when the shard had not yet heard of every
    /// <see cref="SteeringChanged"/> sent to it: <paramref name="SteeringChangesSeen"/> counts those it had, unless
    /// <paramref name="AtOnce"/>: retired without draining its queue, at shutdown, when every socket closes anyway).
    /// </summary>
    public sealed record ReadyToClose(int ShardId, int Drained, int QueuedAtClose, int SteeringChangesSeen = 0, bool AtOnce = false);

    /// <summary>
    /// Sender: the coordinator, once a successor took the node's sockets over (Released). The shard stops accepting and
    /// keeps its socket open (the successor accepts from the same kernel queue) and its connections as they are, until
    /// <see cref="Resume"/> (the successor died within the stability period) or <see cref="Retire"/> (it did not). No reply.
    /// </summary>
    public sealed class Standby
    {
        public static readonly Standby Instance = new();
        private Standby() { }
    }

    /// <summary>Sender: the coordinator, to a shard on <see cref="Standby"/> whose successor died: it accepts again. No reply.</summary>
    public sealed class Resume
    {
        public static readonly Resume Instance = new();
        private Resume() { }
    }

    /// <summary>Sender: the coordinator, to a shard whose socket it closed after <see cref="ReadyToClose"/>. No reply.</summary>
    public sealed class SocketClosed
    {
        public static readonly SocketClosed Instance = new();
        private SocketClosed() { }
    }

    /// <summary>
    /// Sender: the coordinator, to retiring shards of a group whose steering program changed. Connections steered
    /// by the old program may still arrive, so the quiet period starts again. No reply.
    /// </summary>
    public sealed class SteeringChanged
    {
        public static readonly SteeringChanged Instance = new();
        private SteeringChanged() { }
    }

    /// <summary>
    /// Sender: the coordinator, answering <see cref="ReadyToClose"/> of a shard whose group changed its steering after
    /// the shard last heard of it (another member closed: until the program was rebuilt, the kernel could still put
    /// connections in this queue). The socket stays open; the shard drains until its queue is quiet again and asks
    /// anew. No reply.
    /// </summary>
    public sealed class DrainAgain
    {
        public static readonly DrainAgain Instance = new();
        private DrainAgain() { }
    }

    /// <summary>
    /// Sender: the coordinator, after a reload of the listener's handler. The shard passes it on to its connections
    /// (<see cref="Connection.Connection.RetireGeneration"/>): those of older generations get the drain timeout to
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

    /// <summary>Sender: a retiring shard's own timer, to see whether its accept queue stayed empty long enough.</summary>
    internal sealed class QuietCheck
    {
        public static readonly QuietCheck Instance = new();
        private QuietCheck() { }
    }

    /// <summary>
    /// Sender: test code. Makes the shard actor throw, to prove that a crash closes no socket and drops no
    /// connection. Handled only when <see cref="CrashForTestEnabled"/> is set.
    /// </summary>
    public sealed class CrashForTest
    {
        public static readonly CrashForTest Instance = new();
        private CrashForTest() { }
    }

    /// <summary>Whether shards honour <see cref="CrashForTest"/>; off unless a test turns it on.</summary>
    public static bool CrashForTestEnabled { get; set; }

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
    /// Sender: the readiness engine's thread (<see cref="Connection.ConnectionReadiness"/>), when a connection waiting in
    /// the shard became readable; the connection is queued in <see cref="ShardSocket.Readable"/>. Receiver: the shard,
    /// which takes every queued connection. No reply.
    /// </summary>
    internal sealed class ConnectionsReadable
    {
        public static readonly ConnectionsReadable Instance = new();
        private ConnectionsReadable() { }
    }
}
