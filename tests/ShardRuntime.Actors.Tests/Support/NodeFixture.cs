using System.Net;
using Akka.Actor;
using Akka.Configuration;
using ShardRuntime.Actors.Handlers;
using ShardRuntime.Actors.Settings;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Tests.Support;

/// <summary>Builds settings for specs: listeners on 127.0.0.1 port 0 with whatever HOCON a spec adds.</summary>
internal static class Specs
{
    public static ShardRuntimeSettings Settings(string listenersHocon, string extra = "") =>
        ShardRuntimeSettings.Create(ConfigurationFactory.ParseString(
            $"shard-runtime {{ control.enabled = off\n upgrade.enabled = off\n listeners {{ {listenersHocon} }}\n {extra} }}"));

    /// <summary>Starts a coordinator on <paramref name="settings"/> and waits until its listeners are bound.</summary>
    public static IActorRef StartCoordinator(
        ActorSystem system, ShardRuntimeSettings settings, HandlerCatalog? handlers = null, string name = "shard-runtime",
        ShardRuntime.Runtime.Sockets.IListenerSocketFactory? sockets = null)
    {
        var coordinator = system.ActorOf(CoordinatorProtocol.Props(settings, handlers ?? HandlerCatalog.WithBuiltIns(), sockets), name);
        var started = coordinator.Ask<object>(CoordinatorProtocol.WaitUntilStarted.Instance, Clients.Timeout).GetAwaiter().GetResult();
        Assert.IsType<CoordinatorProtocol.Started>(started);
        return coordinator;
    }

    public static CoordinatorProtocol.NodeStatus Status(IActorRef coordinator) =>
        coordinator.Ask<CoordinatorProtocol.NodeStatus>(CoordinatorProtocol.GetStatus.Instance, Clients.Timeout).GetAwaiter().GetResult();

    public static IPEndPoint EndPoint(IActorRef coordinator, string listener) =>
        IPEndPoint.Parse(Status(coordinator).Listeners.Single(l => l.Name == listener).EndPoint);

    public static CoordinatorProtocol.ListenerStatus Listener(IActorRef coordinator, string listener) =>
        Status(coordinator).Listeners.Single(l => l.Name == listener);

    /// <summary>A shard's actor: a child of its reuseport group's actor (<c>/user/shard-runtime/group-n/listener-name-id</c>).</summary>
    public static Task<IActorRef> ShardAsync(ActorSystem system, string listener, int shardId, string coordinator = "shard-runtime") =>
        system.ActorSelection($"/user/{coordinator}/*/listener-{listener}-{shardId}").ResolveOne(Clients.Timeout);
}
