using Akka;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Akka.Hosting;
using ShardRuntime.Actors.Cluster.Transport;
using ShardRuntime.Actors.Handlers;
using ShardRuntime.Actors.Settings;
using ClusterProtocol = ShardRuntime.Actors.Cluster.ClusterListeners;
using ControlProtocol = ShardRuntime.Actors.ControlSocket.Control;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Hosting;

/// <summary>
/// Adds ShardRuntime to an Akka.Hosting actor system: its HOCON (options prepended over the rest, reference.conf
/// appended as the fallback), the coordinator, registered in the ActorRegistry under
/// <see cref="CoordinatorProtocol.Marker"/>, which binds the configured listeners as it starts, and the control and upgrade
/// sockets where the options ask for them (off by default: no socket file unless asked for). The host's <c>StartAsync</c>
/// returns once the listeners are bound and serving (their handler code and TLS files loaded) and the control socket, if
/// asked for, is bound, and throws
/// <see cref="ShardRuntimeStartException"/>, naming the listener, key and file, when the node cannot start or has not
/// within <c>shard-runtime.start-timeout</c>.
/// </summary>
public static class ShardRuntimeHostingExtensions
{
    /// <summary>Counts the actor systems of this process that got ShardRuntime: part of their own control socket path.</summary>
    private static int _instances;

    /// <summary>ShardRuntime with the listeners declared in HOCON (<c>shard-runtime.listeners</c>).</summary>
    public static AkkaConfigurationBuilder WithShardRuntime(this AkkaConfigurationBuilder builder) =>
        builder.WithShardRuntime(new ShardRuntimeOptions());

    /// <summary>ShardRuntime with one listener, for example <c>WithShardRuntime("http", "127.0.0.1:8080", "http-ok")</c>.</summary>
    public static AkkaConfigurationBuilder WithShardRuntime(
        this AkkaConfigurationBuilder builder, string listener, string endPoint, string handler, int? shards = null) =>
        builder.WithShardRuntime(o => o.AddListener(listener, l =>
        {
            l.EndPoint = endPoint;
            l.Handler = handler;
            l.Shards = shards;
        }));

    /// <summary>ShardRuntime configured by <paramref name="configure"/>.</summary>
    public static AkkaConfigurationBuilder WithShardRuntime(this AkkaConfigurationBuilder builder, Action<ShardRuntimeOptions> configure)
    {
        var options = new ShardRuntimeOptions();
        configure(options);
        return builder.WithShardRuntime(options);
    }

    /// <summary>ShardRuntime configured by <paramref name="options"/>.</summary>
    public static AkkaConfigurationBuilder WithShardRuntime(this AkkaConfigurationBuilder builder, ShardRuntimeOptions options)
    {
        builder.AddHocon(options.ToConfig(), HoconAddMode.Prepend);
        builder.AddHocon(ReferenceConfig.Default, HoconAddMode.Append);
        if (options.UpgradeSuccessor is not null && options.Upgrade is not null)
            throw new ArgumentException(
                $"{nameof(ShardRuntimeOptions)}: set either {nameof(ShardRuntimeOptions.EnableUpgrade)} (an app that upgrades itself) or {nameof(ShardRuntimeOptions.Upgrade)} (the host's own), not both",
                nameof(options));
        // Set as the actors start; read by the start-up task, which Akka.Hosting runs after them.
        ShardRuntimeSettings? started = null;
        var controlBindsAtStart = false; // a successor's control socket binds only once its upgrade completed
        builder.WithActors((system, registry) =>
        {
            // An app that upgrades itself and was started as a successor takes its predecessor's control socket path over.
            var predecessor = options.UpgradeSuccessor is null ? null : EmbeddedUpgrade.TakePredecessor();
            var settings = ShardRuntimeSettings.Create(WithOwnSocketPath(system.Settings.Config, system.Name, predecessor?.ControlSocket));
            started = settings;
            Runtime.Upgrade.UpgradeClient? successorConnection = null;
            var upgrade = options.UpgradeSuccessor is { } successor
                ? EmbeddedUpgrade.Options(settings, successor, predecessor, out successorConnection)
                : options.Upgrade;
            // Secure by default: ShardRuntime's actors run in a remoting actor system only over TLS with mutual
            // authentication, or where the operator said insecure-transport = on (refused otherwise, naming the key).
            var transport = ClusterTransport.OfActorSystem(system.Settings.Config,
                ((ExtendedActorSystem)system).Provider is Akka.Remote.IRemoteActorRefProvider, settings.Cluster);
            if (transport.IsInsecure)
                system.Log.Warning("ShardRuntime cluster transport: {0}", transport.Description);
            var catalog = HandlerCatalog.WithBuiltIns();
            foreach (var handler in options.Handlers) catalog.Add(handler);
            foreach (var handler in options.StreamHandlers) catalog.Add(handler);
            var coordinator = system.ActorOf(
                CoordinatorProtocol.Props(settings, catalog, readListeners: options.ReloadListeners, upgrade: upgrade, transport: transport),
                CoordinatorProtocol.ActorName);
            registry.Register<CoordinatorProtocol.Marker>(coordinator);
            if (successorConnection is not null) EmbeddedUpgrade.CompleteAsSuccessor(system, settings, successorConnection, coordinator);

            // In a cluster, the node follows (and may change) the cluster-wide desired state of listeners.
            IActorRef? cluster = null;
            if (settings.Cluster.Enabled && ((ExtendedActorSystem)system).Provider is Akka.Cluster.IClusterActorRefProvider)
            {
                cluster = system.ActorOf(ClusterProtocol.Props(settings, coordinator), ClusterProtocol.ActorName);
                registry.Register<ClusterProtocol.Marker>(cluster);
            }

            if (settings.Control.Enabled)
            {
                controlBindsAtStart = !(upgrade?.DeferSocketFiles ?? false);
                var control = system.ActorOf(
                    ControlProtocol.Props(settings.Control, coordinator, deferBind: !controlBindsAtStart, cluster: cluster),
                    ControlProtocol.ActorName);
                registry.Register<ControlProtocol.Marker>(control);
            }

            // Graceful shutdown (SIGTERM, Ctrl+C, host stop): stop accepting everywhere, then let open connections
            // finish up to the drain deadline, before the actor system goes down.
            var drain = new CoordinatorProtocol.Drain(settings.ShutdownDrainTimeout);
            CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseServiceUnbind, "shard-runtime-drain", async () =>
            {
                try
                {
                    await coordinator.Ask<CoordinatorProtocol.Drained>(drain, settings.ShutdownDrainTimeout + TimeSpan.FromSeconds(5));
                }
                catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
                {
                    system.Log.Warning("ShardRuntime drain did not finish within {DrainTimeout}", settings.ShutdownDrainTimeout);
                }
                return Done.Instance;
            });
        });
        // Akka.Hosting's hosted service awaits start-up tasks within its StartAsync (after every WithActors) and rethrows
        // their exception after a coordinated shutdown: the host's StartAsync returns once the node serves, or fails with why.
        // The AddAkka callback runs only as the service provider builds the actor system, too late to add a hosted service.
        builder.AddStartup(new StartupTask(async (_, registry) =>
        {
            const string timeoutKey = $"{ShardRuntimeSettings.Section}.start-timeout";
            await NodeStart.WaitAsync(registry.Get<CoordinatorProtocol.Marker>(), started!.StartTimeout, timeoutKey).ConfigureAwait(false);
            if (controlBindsAtStart && registry.TryGet<ControlProtocol.Marker>(out var control))
                await NodeStart.WaitForControlSocketAsync(control, started.StartTimeout, timeoutKey).ConfigureAwait(false);
        }));
        return builder;
    }

    /// <summary>
    /// <paramref name="config"/>, with a control socket path of this actor system's own where it sets none
    /// (<see cref="ControlSettings.OwnSocketPath"/>): two actor systems on one machine never share a default path; a
    /// successor's is its predecessor's (<paramref name="predecessorControlSocket"/>). The upgrade socket's default path follows it.
    /// </summary>
    private static Config WithOwnSocketPath(Config config, string actorSystemName, string? predecessorControlSocket)
    {
        if (config.GetString($"{ShardRuntimeSettings.Section}.control.socket-path", "") is { Length: > 0 }) return config;
        var path = predecessorControlSocket ?? ControlSettings.OwnSocketPath(ControlSettings.DefaultDirectory(), actorSystemName, Environment.ProcessId,
            Interlocked.Increment(ref _instances));
        return new ShardRuntimeOptions { ControlSocketPath = path }.ToConfig().WithFallback(config);
    }
}
