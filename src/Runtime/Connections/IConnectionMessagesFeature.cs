using System.Threading.Channels;

namespace ShardRuntime.Runtime.Connections;

/// <summary>
/// The async style's way to hear from other parts of the program (the span style's
/// <see cref="IConnectionHandler.OnMessage"/>): <c>connection.GetFeature&lt;IConnectionMessagesFeature&gt;()</c>. In
/// ShardRuntime.Actors every message told to the connection's actor (its ref is
/// <c>GetFeature&lt;IConnectionActorFeature&gt;().Self</c>) that is not the runtime's own is written to
/// <see cref="Messages"/>, in the order they came; they wait there until the handler reads them (as they would in a
/// mailbox). Null where the host of the connection offers no messages (test fakes may).
/// </summary>
public interface IConnectionMessagesFeature
{
    /// <summary>Messages sent to the connection, in order. Completed when the connection ends.</summary>
    ChannelReader<object> Messages { get; }
}
