using Akka.Actor;
using Akka.Event;
using ShardRuntime.Runtime.Connections;

namespace ShardRuntime.Actors.Connections;

/// <summary>
/// Protocol of a stream connection's actor (<c>.../listener-&lt;name&gt;-&lt;id&gt;/conn-&lt;id&gt;</c>, as a span
/// connection's): it owns one accepted socket whose handler runs as a task off the I/O loops. It understands what its
/// shard tells every connection (<see cref="Connection.RetireGeneration"/>, <see cref="Connection.Abort"/>,
/// <see cref="Connection.DeadlineCheck"/>); any other message is written to the handler's
/// <see cref="IConnectionMessagesFeature.Messages"/> (a span handler behind it gets it as <c>OnMessage</c>).
/// </summary>
internal static class StreamConnection
{
    /// <summary>The Props of a stream connection's actor: they carry its state, so a restarted instance continues it.</summary>
    public static Props Props(StreamConnectionState state) =>
        Akka.Actor.Props.Create(() => new StreamConnectionActor(state)).WithDeploy(state.Shard.ConnectionDeploy);

    /// <summary>
    /// Sender: the connection's task, when it ended: gracefully (<see cref="ConnectionCloseReason.Closed"/>), gone
    /// underneath, or with the handler's exception (<paramref name="HandlerFailed"/>). Receiver: the connection's actor,
    /// which closes the socket, gives back what the connection held and stops. No reply.
    /// </summary>
    public sealed record Ended(ConnectionCloseReason Reason, Exception? Error, bool HandlerFailed) : IDeadLetterSuppression;
}
