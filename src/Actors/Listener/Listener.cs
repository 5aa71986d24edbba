using Akka.Actor;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Connections;

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
        IConnectionHandlerFactory handler,
        ConnectionBudget budget,
        ShardCounters counters) =>
        Akka.Actor.Props.Create(() => new ListenerShardActor(settings, socket, handler, budget, counters));

    /// <summary>Actor name of a shard.</summary>
    public static string ActorName(string listener, int shardId) => $"listener-{listener}-{shardId}";

    /// <summary>
    /// Sender: the coordinator. The shard stops accepting, closes its listening socket and lets its open connections
    /// finish; after <paramref name="DrainTimeout"/> it aborts the rest. It stops itself when the last one is gone;
    /// the coordinator watches it. No reply.
    /// </summary>
    public sealed record Retire(TimeSpan DrainTimeout);

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

    /// <summary>Sender: the shard's own timer, when an accept back-off (EMFILE and the like) is over.</summary>
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
}
