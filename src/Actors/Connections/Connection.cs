using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using ShardRuntime.Actors.Listeners;
using ShardRuntime.Runtime.Connections;
using ShardRuntime.Runtime.Loading;

namespace ShardRuntime.Actors.Connections;

/// <summary>
/// Protocol of a connection actor (<c>.../listener-&lt;name&gt;-&lt;id&gt;/conn-&lt;id&gt;</c>): it owns one accepted
/// socket and drives the connection's handler. Any other message sent to it is given to the handler's
/// <see cref="IConnectionHandler.OnMessage"/>.
/// </summary>
public static class Connection
{
    /// <summary>
    /// The Props of a connection's actor. The state is made once, by the shard: a restarted actor instance gets this
    /// same object and continues the connection. No reflection and no expression per connection (churn pays for each).
    /// </summary>
    internal static Props Props(ConnectionState state) => new ConnectionActorProps(state, state.Shard.ConnectionDeploy);

    /// <summary>Actor name of a connection.</summary>
    public static string ActorName(long id) => $"conn-{id}";

    /// <summary>
    /// Sender: its shard (when the drain deadline passes) or anyone. The connection drops queued writes, resets the
    /// socket and stops. No reply.
    /// </summary>
    public sealed class Abort
    {
        internal static readonly Abort DrainDeadline = new(ConnectionCloseReason.DrainDeadline);

        /// <summary>Aborts the connection for <paramref name="reason"/>.</summary>
        public Abort(ConnectionCloseReason reason) => Reason = reason;

        /// <summary>Why the connection is aborted.</summary>
        public ConnectionCloseReason Reason { get; }
    }

    /// <summary>
    /// Sender: its shard, after the listener's handler was reloaded. A connection running on a generation older than
    /// <paramref name="Current"/> gets <paramref name="DrainTimeout"/> to finish on its own; then it closes gracefully
    /// (pending replies are flushed). Connections on the current generation ignore it. No reply.
    /// </summary>
    public sealed record RetireGeneration(int Current, TimeSpan DrainTimeout);

    /// <summary>Sender: the connection's own timer, when its retired generation's drain deadline passed. Internal.</summary>
    internal sealed class GenerationDeadline : IDeadLetterSuppression // may race the connection's end
    {
        public static readonly GenerationDeadline Instance = new();
        private GenerationDeadline() { }
    }

    /// <summary>
    /// Sender: its shard, once the connection's first turn is over (or at once, when the shard runs none): the actor takes
    /// the connection over from there. Until then it keeps what it is sent. Internal.
    /// </summary>
    internal sealed class Adopt
    {
        public static readonly Adopt Instance = new();
        private Adopt() { }
    }

    /// <summary>Sender: the readiness engine, when data (or the end of input, or an error) is there to be read. Internal.</summary>
    internal sealed class ReceiveReady : IDeadLetterSuppression // may race the connection's end
    {
        public static readonly ReceiveReady Instance = new();
        private ReceiveReady() { }
    }

    /// <summary>
    /// Sender: the connection itself, by way of the back of its I/O loop's queue, after a turn that used its read budget:
    /// it reads on once the loop's other work had its turn. Internal.
    /// </summary>
    internal sealed class ReadMore
    {
        public static readonly ReadMore Instance = new();
        private ReadMore() { }
    }

    /// <summary>Sender: the readiness engine, when a socket whose send buffer was full has room again. Internal.</summary>
    internal sealed class SendReady : IDeadLetterSuppression // may race the connection's end
    {
        public static readonly SendReady Instance = new();
        private SendReady() { }
    }

    /// <summary>
    /// Sender: its shard's sweep, when the connection has been idle for the idle timeout or held an incomplete request for
    /// the request-head timeout; the connection looks again itself (there may have been activity since). Internal.
    /// </summary>
    internal sealed class DeadlineCheck : IDeadLetterSuppression // may race the connection's end
    {
        public static readonly DeadlineCheck Instance = new();
        private DeadlineCheck() { }
    }

    /// <summary>Sender: its shard's sweep, when a graceful close waited long enough for the peer's FIN. Internal.</summary>
    internal sealed class LingerExpired : IDeadLetterSuppression // may race the connection's end
    {
        public static readonly LingerExpired Instance = new();
        private LingerExpired() { }
    }
}
