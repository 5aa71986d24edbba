using Akka.Actor;

namespace ShardRuntime.Actors.Listeners;

/// <summary>
/// What a datagram handler gets from <c>context.GetFeature&lt;IDatagramActorFeature&gt;()</c> when it runs inside
/// ShardRuntime.Actors: its UDP shard's actor (a message told to it reaches the handler's
/// <see cref="Runtime.Datagrams.IDatagramHandler.OnMessage"/>, where <see cref="Runtime.Datagrams.IDatagramContext.SendTo(System.Net.SocketAddress, ReadOnlySpan{byte})"/>
/// works) and the actor system, so the handler can talk to other actors, as a TCP handler does through
/// <see cref="Connections.IConnectionActorFeature"/>.
/// </summary>
public interface IDatagramActorFeature
{
    /// <summary>The UDP shard actor. Tell it a message and the handler's OnMessage receives it.</summary>
    IActorRef Self { get; }

    /// <summary>The actor system the shard runs in.</summary>
    ActorSystem System { get; }
}

/// <summary>The <see cref="IDatagramActorFeature"/> of one UDP shard.</summary>
internal sealed record DatagramActorFeature(IActorRef Self, ActorSystem System) : IDatagramActorFeature;
