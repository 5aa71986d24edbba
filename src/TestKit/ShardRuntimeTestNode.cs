using System.Net;
using Akka.Actor;
using Akka.Hosting;
using Akka.TestKit;
using ShardRuntime.Actors.Coordination;
using ShardRuntime.Actors.Handlers;
using ShardRuntime.Actors.Hosting;
using ShardRuntime.Actors.Listeners;
using ShardRuntime.Actors.Settings;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.TestKit;

/// <summary>
/// A ShardRuntime node inside a test's actor system (Akka.TestKit.Xunit2's <c>Sys</c>): the coordinator started as
/// <c>WithShardRuntime</c> starts it (the same <see cref="ShardRuntimeOptions"/>, handlers added from code, registered in
/// the <see cref="ActorRegistry"/> under <see cref="CoordinatorProtocol.Marker"/>), without a control or upgrade socket
/// or cluster actor and without a drain task in the actor system's coordinated shutdown (disposing drains), its
/// listeners bound before <see cref="StartAsync(TestKitBase, Action{ShardRuntimeOptions}, TimeSpan?)"/> returns. Bind
/// listeners to <c>127.0.0.1:0</c> and read the port with <see cref="GetEndPointAsync"/>. TestProbes talk to
/// <see cref="Coordinator"/> (<see cref="CoordinatorProtocol.GetStatus"/>, <see cref="CoordinatorProtocol.ScaleTo"/>) and watch it and the
/// shards (<see cref="GetShardsAsync"/>). The coordinator publishes no events: <see cref="AwaitStatusAsync"/> asks for
/// the status until a condition holds, within a bound. Disposing drains the node (open connections get until the
/// timeout) and stops the coordinator, which closes every socket.
/// </summary>
public sealed class ShardRuntimeTestNode : IAsyncDisposable
{
    private ShardRuntimeTestNode(ActorSystem system, IActorRef coordinator, TimeSpan timeout)
    {
        System = system;
        Coordinator = coordinator;
        Timeout = timeout;
    }

    /// <summary>The actor system the node runs in (the test kit's).</summary>
    public ActorSystem System { get; }

    /// <summary>The coordinator (<c>/user/shard-runtime</c>): send it the <see cref="CoordinatorProtocol"/> protocol's messages.</summary>
    public IActorRef Coordinator { get; }

    /// <summary>The bound of every wait of this node (its start, asks, <see cref="AwaitStatusAsync"/>, its drain).</summary>
    public TimeSpan Timeout { get; }

    /// <summary>
    /// Starts a node in <paramref name="testKit"/>'s actor system, configured by <paramref name="configure"/> as
    /// <c>WithShardRuntime</c> is (keys under <c>shard-runtime</c> in the test kit's HOCON apply too), and waits until its
    /// listeners are bound. <paramref name="timeout"/> bounds every wait; unset, the test kit's <c>akka.test.default-timeout</c>,
    /// dilated by <c>akka.test.timefactor</c>.
    /// </summary>
    /// <exception cref="ShardRuntimeConfigurationException">The options or the HOCON are not valid (the message names the key).</exception>
    /// <exception cref="ShardRuntimeStartException">A listener could not be bound or its files loaded, or not within the timeout (the message says why).</exception>
    /// <exception cref="ArgumentException">The options ask for the control or upgrade socket, which a test node does not serve.</exception>
    /// <remarks>One node per actor system: a second one while the first runs is refused.</remarks>
    public static Task<ShardRuntimeTestNode> StartAsync(TestKitBase testKit, Action<ShardRuntimeOptions> configure, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(testKit);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new ShardRuntimeOptions();
        configure(options);
        return StartAsync(testKit.Sys, options, timeout ?? testKit.Dilated(testKit.TestKitSettings.DefaultTimeout));
    }

    /// <summary>Starts a node in <paramref name="system"/> with <paramref name="options"/>; see the other overload.</summary>
    public static async Task<ShardRuntimeTestNode> StartAsync(ActorSystem system, ShardRuntimeOptions options, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(system);
        ArgumentNullException.ThrowIfNull(options);
        // No socket files from a test: the control socket (an actor WithShardRuntime adds beside the coordinator) and the
        // upgrade socket stay off, and asking for them is refused rather than ignored.
        if (options.EnableControlSocket == true || options.EnableUpgradeSocket == true)
            throw new ArgumentException(
                $"ShardRuntimeTestNode serves no control or upgrade socket: leave {nameof(ShardRuntimeOptions.EnableControlSocket)} and " +
                $"{nameof(ShardRuntimeOptions.EnableUpgradeSocket)} unset (to test them, host the node with WithShardRuntime)", nameof(options));
        options.EnableControlSocket = false;
        options.EnableUpgradeSocket = false;
        var settings = ShardRuntimeSettings.Create(options.ToConfig().WithFallback(system.Settings.Config));
        var catalog = HandlerCatalog.WithBuiltIns();
        foreach (var handler in options.Handlers) catalog.Add(handler);
        IActorRef coordinator;
        try
        {
            coordinator = system.ActorOf(
                CoordinatorProtocol.Props(settings, catalog, readListeners: options.ReloadListeners, upgrade: options.Upgrade),
                CoordinatorProtocol.ActorName);
        }
        catch (InvalidActorNameException e)
        {
            throw new InvalidOperationException(
                $"a ShardRuntime node runs in actor system '{system.Name}' already (/user/{CoordinatorProtocol.ActorName}): one node per test kit; dispose the first", e);
        }
        try
        {
            // The same wait as a host's StartAsync with WithShardRuntime, bounded by the test's timeout.
            await NodeStart.WaitAsync(coordinator, timeout, "the test node's timeout").ConfigureAwait(false);
        }
        catch (ShardRuntimeStartException)
        {
            await coordinator.GracefulStop(timeout).ConfigureAwait(false);
            throw;
        }
        ActorRegistry.For(system).Register<CoordinatorProtocol.Marker>(coordinator, overwrite: true);
        return new ShardRuntimeTestNode(system, coordinator, timeout);
    }

    /// <summary>The node's status (<see cref="CoordinatorProtocol.GetStatus"/>).</summary>
    public async Task<CoordinatorProtocol.NodeStatus> GetStatusAsync() =>
        Expect<CoordinatorProtocol.NodeStatus>(await AskAsync(CoordinatorProtocol.GetStatus.Instance).ConfigureAwait(false));

    /// <summary>The status of listener <paramref name="listener"/>.</summary>
    /// <exception cref="ArgumentException">The node has no such listener (the message lists those it has).</exception>
    public async Task<CoordinatorProtocol.ListenerStatus> GetListenerAsync(string listener)
    {
        var status = await GetStatusAsync().ConfigureAwait(false);
        return status.Listeners.SingleOrDefault(l => l.Name == listener) ?? throw new ArgumentException(
            $"the node has no listener '{listener}' (it has: {string.Join(", ", status.Listeners.Select(l => l.Name))})", nameof(listener));
    }

    /// <summary>The address listener <paramref name="listener"/> is bound to (the port the kernel chose for port 0).</summary>
    public async Task<IPEndPoint> GetEndPointAsync(string listener) =>
        IPEndPoint.Parse((await GetListenerAsync(listener).ConfigureAwait(false)).EndPoint);

    /// <summary>Scales <paramref name="listener"/> to <paramref name="shards"/> listening sockets (<see cref="CoordinatorProtocol.ScaleTo"/>).</summary>
    /// <exception cref="InvalidOperationException">The coordinator refused (the message says why).</exception>
    public async Task<CoordinatorProtocol.ScaledTo> ScaleToAsync(string listener, int shards) =>
        Expect<CoordinatorProtocol.ScaledTo>(await AskAsync(new CoordinatorProtocol.ScaleTo(listener, shards)).ConfigureAwait(false));

    /// <summary>
    /// Asks for the status until <paramref name="condition"/> holds and returns that status; the asks back off from 10 ms
    /// to 200 ms apart. <paramref name="timeout"/> (unset: <see cref="Timeout"/>) bounds the wait.
    /// </summary>
    /// <exception cref="TimeoutException">The condition did not hold in time (the message has the last status).</exception>
    public async Task<CoordinatorProtocol.NodeStatus> AwaitStatusAsync(Func<CoordinatorProtocol.NodeStatus, bool> condition, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var deadline = DateTime.UtcNow + (timeout ?? Timeout);
        var pause = TimeSpan.FromMilliseconds(10);
        while (true)
        {
            var status = await GetStatusAsync().ConfigureAwait(false);
            if (condition(status)) return status;
            if (DateTime.UtcNow >= deadline)
                throw new TimeoutException($"the node's status did not meet the condition within {timeout ?? Timeout}; last: {Summary(status)}");
            await Task.Delay(pause).ConfigureAwait(false);
            pause = TimeSpan.FromMilliseconds(Math.Min(pause.TotalMilliseconds * 2, 200));
        }
    }

    /// <summary>
    /// The actors of <paramref name="listener"/>'s serving shards (accepting or receiving), in shard order, for a probe to
    /// watch (a retired shard's actor stops) or to tell.
    /// </summary>
    public async Task<IReadOnlyList<IActorRef>> GetShardsAsync(string listener)
    {
        var status = await GetListenerAsync(listener).ConfigureAwait(false);
        var shards = new List<IActorRef>();
        foreach (var shard in status.Shards.Where(s => s.IsServing).OrderBy(s => s.ShardId))
        {
            // A shard is a child of its reuseport group's actor (one per endpoint and handler generation).
            var path = $"{Coordinator.Path.ToStringWithoutAddress()}/*/{Listener.ActorName(listener, shard.ShardId)}";
            shards.Add(await System.ActorSelection(path).ResolveOne(Timeout).ConfigureAwait(false));
        }
        return shards;
    }

    /// <summary>Drains the node (stops accepting, lets open connections finish within <see cref="Timeout"/>) and stops the coordinator.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Coordinator.IsNobody()) return;
        try
        {
            await Coordinator.Ask<object>(new CoordinatorProtocol.Drain(Timeout), Timeout + Timeout).ConfigureAwait(false);
            await Coordinator.GracefulStop(Timeout).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException or TimeoutException)
        {
            System.Stop(Coordinator); // the actor system's end closes what is left
        }
    }

    private async Task<object> AskAsync(object message)
    {
        try
        {
            return await Coordinator.Ask<object>(message, Timeout).ConfigureAwait(false);
        }
        catch (CommandFailedException refused) // the coordinator's Status.Failure
        {
            throw new InvalidOperationException($"the coordinator refused: {refused.Reason}", refused);
        }
    }

    private static T Expect<T>(object reply) => reply is T expected
        ? expected
        : throw new InvalidOperationException($"the coordinator refused: {Describe(reply)}");

    private static string Describe(object reply) => reply switch
    {
        Status.Failure failure => failure.Cause.Message,
        _ => $"unexpected reply {reply}",
    };

    private static string Summary(CoordinatorProtocol.NodeStatus status) =>
        string.Join("; ", status.Listeners.Select(l =>
            $"{l.Name} {l.EndPoint} desired {l.DesiredShards}, shards [{string.Join(", ", l.Shards.Select(s => $"{s.ShardId}:{s.State}"))}], open {l.OpenConnections}"));
}
