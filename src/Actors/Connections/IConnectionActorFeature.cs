using Akka.Actor;

namespace ShardRuntime.Actors.Connections;

/// <summary>
/// What a handler gets from <c>context.GetFeature&lt;IConnectionActorFeature&gt;()</c> when it runs inside
/// ShardRuntime.Actors: the connection's own actor (messages sent to it reach the handler's OnMessage) and the
/// actor system, so the handler can talk to other actors.
/// </summary>
public interface IConnectionActorFeature
{
    /// <summary>The connection actor. Tell it a message and the handler's OnMessage receives it.</summary>
    IActorRef Self { get; }

    /// <summary>The actor system the connection runs in.</summary>
    ActorSystem System { get; }
}
