using ShardRuntime.Actors.Hosting;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Akka.Actor;
using Akka.Cluster;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Serilog;
using Serilog.Events;
using Serilog.Formatting.Json;
using ShardRuntime.Actors.Cluster.Transport;
using ShardRuntime.Actors.Coordination;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Actors.Upgrade;
using ShardRuntime.Runtime.Sockets;
using ShardRuntime.Runtime.Systemd;
using ShardRuntime.Runtime.Upgrade;
using ControlProtocol = ShardRuntime.Actors.ControlSocket.Control;
using ClusterProtocol = ShardRuntime.Actors.Cluster.ClusterListeners;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Host.Node;

/// <summary>
/// Runs a node: Serilog console logging (Akka's logging goes through it too), the generic host with Akka.Hosting
/// (<see cref="NodeHost"/>), a single-node cluster that joins itself unless seed nodes are configured, and ShardRuntime
/// with the listeners of the node's config. A successor (<c>run --upgrade-from</c>) receives its predecessor's sockets
/// first and starts the <see cref="Successor"/> actor for the rest of the upgrade. Every wait is bounded by a configured
/// deadline. SIGTERM / Ctrl+C stop accepting, drain open connections up to the configured deadline and exit 0.
/// </summary>
internal static class NodeRunner
{
    /// <summary>Exit code when start-up fails after the config was read (a listener could not be bound, ...).</summary>
    public const int StartupFailed = 1;

    /// <summary>Exit code when the configuration is unusable.</summary>
    public const int ConfigInvalid = Cli.ExitCodes.ConfigInvalid;

    public static async Task<int> RunAsync(NodeLaunch launch, CancellationToken cancellationToken)
    {
        Log.Logger = CreateLogger(launch.JsonLogs);
        try
        {
            if (LoadConfig(launch) is not { } config) return ConfigInvalid;
            // The cluster's transport: none for a lone node; TLS with mutual authentication (its files read and checked
            // now, before anything binds); or plain TCP where the operator asked for it, said at every start.
            using var certificates = LoadCertificates(config);
            if (certificates is null && config.Settings.Cluster.Tls is not null) return ConfigInvalid;
            if (config.Transport.IsInsecure) Log.Warning("Cluster transport {Transport}", config.Transport.Description);
            else Log.Information("Cluster transport {Transport}", config.Transport.Description);

            // A second node started on a running node's configuration stops here, before it binds or adopts anything.
            if (!launch.IsSuccessor && await RunningNodeCheck.FindAsync(config.Settings) is { } alreadyRunning)
            {
                Log.Fatal("Not started: {Reason}", alreadyRunning);
                return StartupFailed;
            }
            // A successor's upgrade connection: this method owns it until the successor actor does (Dispose is idempotent).
            using var connection = launch.IsSuccessor ? new UpgradeClient(config.Settings.Upgrade.StepTimeout) : null;
            var clusterAddress = new StrongBox<string?>(); // known once the actor system runs; a successor joins through it
            if (await AdoptAsync(launch, config, connection, clusterAddress, cancellationToken) is not { } upgrade) return StartupFailed;
            ProcessGenerationEnricher.Instance.Generation = upgrade.ProcessGeneration;
            using var host = NodeHost.Build(launch, config, certificates, upgrade, clusterAddress);
            return await RunHostAsync(host, config, connection, upgrade, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.Fatal(e, "Node failed: {Error}", e.Message);
            return StartupFailed;
        }
        finally
        {
            await Log.CloseAndFlushAsync();
        }
    }

    private static Serilog.Core.Logger CreateLogger(bool jsonLogs)
    {
        var logging = new LoggerConfiguration()
            .MinimumLevel.Information()
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
            .Enrich.FromLogContext()
            .Enrich.WithProperty("ProcessId", Environment.ProcessId)
            .Enrich.With(ProcessGenerationEnricher.Instance)
            // A failed start is logged once, by RunHostAsync, as its reason: not again with a stack trace each by
            // Akka.Hosting and the generic host, through whose StartAsync it comes.
            .Filter.ByExcluding(e => e.Exception is ShardRuntimeStartException);
        // Listener, Shard and Connection are properties of every event about them: in JSON they are fields,
        // in text they are part of the rendered message.
        return (jsonLogs
                ? logging.WriteTo.Console(new JsonFormatter(renderMessage: true))
                : logging.WriteTo.Console(outputTemplate: "[{Timestamp:HH:mm:ss.fff} {Level:u3} {ProcessId} g{ProcessGeneration}] {Message:lj}{NewLine}{Exception}"))
            .CreateLogger();
    }

    private static NodeConfig? LoadConfig(NodeLaunch launch)
    {
        try
        {
            var config = NodeConfig.Load(launch.ConfigFile, launch.ControlSocket);
            Log.Information("Starting ShardRuntime node {ProcessId} with {Config} ({Listeners} listeners)",
                Environment.ProcessId, config.Source, config.Settings.Listeners.Count);
            return config;
        }
        catch (NodeConfigException e)
        {
            Log.Fatal("Configuration error: {Error}", e.Message);
            return null;
        }
    }

    /// <summary>
    /// Starts the host and the node and serves until it stops. An actor system that ends on its own (Akka.Remote ends it
    /// when a TLS handshake to a peer fails) ends the process too, with its reason's exit code: a node whose actors are
    /// gone must not linger as if it served. Every wait of the start-up ends with it.
    /// </summary>
    private static async Task<int> RunHostAsync(IHost host, NodeConfig config, UpgradeClient? connection, UpgradeOptions upgrade,
        CancellationToken cancellationToken)
    {
        try
        {
            // Returns once the node's listeners are bound and serving (WithShardRuntime waits within it, bounded by start-timeout).
            await host.StartAsync(cancellationToken);
        }
        catch (ShardRuntimeStartException failed)
        {
            // The actor system has shut down already (Akka.Hosting's coordinated shutdown, before it rethrew).
            Log.Fatal("Start-up failed: {Reason}", failed.Reason);
            connection?.Dispose(); // before Ready: the running node rolls back and serves on
            return StartupFailed;
        }
        var system = ActorSystemOf(host);
        var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
        using var running = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _ = system.WhenTerminated.ContinueWith(_ =>
        {
            running.Cancel();
            lifetime.StopApplication();
        }, TaskScheduler.Default);
        try
        {
            var registry = host.Services.GetRequiredService<ActorRegistry>();
            var coordinator = await registry.WaitForAsync<CoordinatorProtocol.Marker>(running.Token);
            if (await StartAsync(host, config, connection, upgrade, coordinator, running.Token) is { } failed) return failed;
            return await ServeAsync(host, config, coordinator, cancellationToken);
        }
        catch (Exception e) when (e is OperationCanceledException or AskTimeoutException && system.WhenTerminated.IsCompleted
                                  && StoppedByActorSystem(system) is { } exitCode)
        {
            return exitCode;
        }
    }

    /// <summary>The node's start after the host's (which saw its listeners bound or adopted and its control socket bound): the cluster joined, then the upgrade completed. Null: serving.</summary>
    private static async Task<int?> StartAsync(IHost host, NodeConfig config, UpgradeClient? connection, UpgradeOptions upgrade,
        IActorRef coordinator, CancellationToken running)
    {
        var settings = config.Settings;
        await FollowClusterAsync(host, settings, running);
        if (connection is not null) return await CompleteUpgradeAsync(host, settings, connection, coordinator, running);

        // The host's StartAsync saw the control socket bound (WithShardRuntime waits for it where it binds at start).
        if (settings.Control.Enabled) Log.Information("Control socket {SocketPath} ready", settings.Control.SocketPath);
        TryNotify($"READY=1\nSTATUS=serving {settings.Listeners.Count} listener(s), process generation {upgrade.ProcessGeneration}");
        return null;
    }

    /// <summary>
    /// In a cluster, the node is started once it has joined and applied the cluster's desired state; one that cannot join
    /// within upgrade.step-timeout serves its own configuration meanwhile and follows once it has joined.
    /// </summary>
    private static async Task FollowClusterAsync(IHost host, ShardRuntimeSettings settings, CancellationToken running)
    {
        if (!host.Services.GetRequiredService<ActorRegistry>().TryGet<ClusterProtocol.Marker>(out var clusterActor)) return;
        try
        {
            var following = await clusterActor.Ask<ClusterProtocol.Following>(ClusterProtocol.WaitUntilFollowing.Instance, settings.Upgrade.StepTimeout, running);
            Log.Information("Following the cluster's desired state: {State}", following.State);
        }
        catch (AskTimeoutException)
        {
            Log.Warning("Not in the cluster within {Timeout} (seed nodes {Seeds}); serving this node's configuration, following the cluster once it has joined",
                settings.Upgrade.StepTimeout, string.Join(", ", Cluster.Get(ActorSystemOf(host)).Settings.SeedNodes));
        }
    }

    /// <summary>
    /// A successor: the <see cref="Successor"/> actor says Ready, claims the socket paths and completes the upgrade
    /// once the predecessor let go; its answer comes within its own deadlines. Null: serving.
    /// </summary>
    private static async Task<int?> CompleteUpgradeAsync(IHost host, ShardRuntimeSettings settings, UpgradeClient connection,
        IActorRef coordinator, CancellationToken running)
    {
        var successor = ActorSystemOf(host).ActorOf(
            Successor.Props(settings.Upgrade, connection, coordinator, claimControlSocket: settings.Control.Enabled), Successor.ActorName);
        switch (await successor.Ask<object>(Successor.WaitUntilServing.Instance, settings.Upgrade.SuccessorAnswerTimeout, running))
        {
            case Successor.Serving:
                return null;
            case Successor.Failed { Withdrawn: true }:
                await host.WaitForShutdownAsync(CancellationToken.None); // the node drains, leaving the sockets to the predecessor
                return StartupFailed;
            case Successor.Failed failed:
                Log.Fatal("Upgrade failed, the running node keeps its sockets: {Reason}", failed.Reason);
                await host.StopAsync(CancellationToken.None);
                return StartupFailed;
            case var other:
                throw new InvalidOperationException($"the successor actor answered {other.GetType().Name}");
        }
    }

    /// <summary>Serves until SIGTERM / Ctrl+C (or the actor system ends): SIGHUP reloads.</summary>
    private static async Task<int> ServeAsync(IHost host, NodeConfig config, IActorRef coordinator, CancellationToken cancellationToken)
    {
        // SIGHUP reloads the config file's listeners and every listener's handler, as `reload` does.
        if (HangupSignal.TakeBackIfIgnored())
            Log.Information("SIGHUP was ignored when the node started (nohup?); the node handles it: SIGHUP reloads");
        using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, signal =>
        {
            signal.Cancel = true;
            Reload(host, config, coordinator);
        });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ => TryNotify("STOPPING=1"));
        Log.Information("Node {ProcessId} serving; send SIGTERM or press Ctrl+C to drain and stop, SIGHUP to reload handlers", Environment.ProcessId);
        await host.WaitForShutdownAsync(cancellationToken);
        if (StoppedByActorSystem(ActorSystemOf(host)) is { } exitCode) return exitCode;
        Log.Information("Node {ProcessId} stopped", Environment.ProcessId);
        return 0;
    }

    /// <summary>SIGHUP: the configuration and every listener's handler reloaded (answered within control.request-timeout, as `reload`).</summary>
    private static void Reload(IHost host, NodeConfig config, IActorRef coordinator)
    {
        Log.Information("SIGHUP: reloading the configuration and every listener's handler");
        ActorSystemOf(host).EventStream.Publish(ControlProtocol.CheckSocketFiles.Instance); // and a deleted socket file is bound again
        TryNotify($"RELOADING=1\nMONOTONIC_USEC={System.Diagnostics.Stopwatch.GetTimestamp() / (System.Diagnostics.Stopwatch.Frequency / 1_000_000)}");
        coordinator.Ask<object>(new CoordinatorProtocol.Reload(null), config.Settings.Control.RequestTimeout).ContinueWith(t =>
        {
            TryNotify("READY=1");
            if (CommandFailedException.In(t.IsCompletedSuccessfully ? t.Result : t.Exception?.GetBaseException()) is { } refused)
                Log.Warning("SIGHUP reload refused: {Reason}", refused.Reason);
            else if (!t.IsCompletedSuccessfully)
                Log.Warning("SIGHUP reload did not complete: {Error}", t.Exception?.GetBaseException().Message ?? "cancelled");
        }, TaskScheduler.Default);
    }

    /// <summary>The cluster's TLS files, read and checked (null when none are set, or when they are unusable: then logged).</summary>
    private static ClusterCertificates? LoadCertificates(NodeConfig config)
    {
        if (config.Settings.Cluster.Tls is not { } tls) return null;
        try
        {
            var certificates = ClusterCertificates.Load(tls, DateTime.UtcNow);
            Log.Information("Cluster TLS: certificate {Subject} (expires {NotAfter:yyyy-MM-dd}), trusting {Authorities}",
                certificates.Certificate.Subject, certificates.Certificate.NotAfter.ToUniversalTime(),
                string.Join(", ", certificates.Authorities.Select(a => a.Subject)));
            return certificates;
        }
        catch (ShardRuntimeConfigurationException e)
        {
            Log.Fatal("Configuration error: {Error}", $"{config.Source}: {e.Message}");
            return null;
        }
    }

    /// <summary>The exit code of a node whose actor system ended on its own for a reason with one (logged), else null.</summary>
    private static int? StoppedByActorSystem(ActorSystem system)
    {
        if (CoordinatedShutdown.Get(system).ShutdownReason is not { ExitCode: not 0 } reason) return null;
        Log.Fatal("Node {ProcessId} stopped by its actor system: {Reason} (exit code {ExitCode})", Environment.ProcessId, reason, reason.ExitCode);
        return reason.ExitCode;
    }

    private static ActorSystem ActorSystemOf(IHost host) => host.Services.GetRequiredService<ActorSystem>();

    /// <summary>
    /// The sockets this process starts with (null when it cannot start: logged). <c>--upgrade-from</c>: received from the
    /// running node through its upgrade socket (when it refuses or fails, it keeps them). Otherwise systemd's socket
    /// activation (LISTEN_FDS, labelled with their FileDescriptorName=, which names the listener), or none.
    /// </summary>
    private static async Task<UpgradeOptions?> AdoptAsync(
        NodeLaunch launch, NodeConfig config, UpgradeClient? connection, StrongBox<string?> clusterAddress, CancellationToken cancellationToken)
    {
        Func<string, System.Diagnostics.Process> startSuccessor = upgradeSocket => SuccessorCommand.Start(launch, upgradeSocket, clusterAddress.Value);
        try
        {
            return connection is not null
                ? await FromPredecessorAsync(launch, config, connection, startSuccessor, cancellationToken)
                : FromSocketActivation(startSuccessor);
        }
        catch (UpgradeException e)
        {
            Log.Fatal("Upgrade failed, the running node keeps its sockets: {Reason}", e.Message);
            return null;
        }
        catch (InvalidOperationException e)
        {
            Log.Fatal("Adopted sockets unusable: {Reason}", e.Message);
            return null;
        }
    }

    private static async Task<UpgradeOptions> FromPredecessorAsync(
        NodeLaunch launch, NodeConfig config, UpgradeClient connection, Func<string, System.Diagnostics.Process> startSuccessor, CancellationToken cancellationToken)
    {
        var path = string.IsNullOrEmpty(launch.PredecessorSocket) ? config.Settings.Upgrade.SocketPath : launch.PredecessorSocket;
        Log.Information("Adopting the listening sockets of the node serving {UpgradeSocket}", path);
        var sockets = await connection.ReceiveAsync(path, cancellationToken);
        Log.Information("Received {Count} listening sockets: {Sockets}", sockets.Count, string.Join(", ", sockets.Select(s => s.Label)));
        return UpgradeOptions.FromPredecessor(sockets, connection.PredecessorGeneration, path, startSuccessor);
    }

    private static UpgradeOptions FromSocketActivation(Func<string, System.Diagnostics.Process> startSuccessor)
    {
        var activated = SystemdSocketActivation.Take();
        if (activated.Count > 0)
            Log.Information("systemd passed {Count} listening sockets: {Sockets}", activated.Count,
                string.Join(", ", activated.Select(a => $"{a.Name} ({a.EndPoint}/{a.Protocol.ToString().ToLowerInvariant()})")));
        return new UpgradeOptions
        {
            // systemd keeps its copy of each socket for the life of the unit: they are pinned (never retired while running).
            Inherited = activated.Select((a, i) => (a.Socket, new SocketLabel(a.Name, a.EndPoint, a.Protocol, i, KernelSocketTable.GetInode(a.Socket), Pinned: true))).ToList(),
            InheritedFrom = "systemd socket activation",
            StartSuccessor = startSuccessor,
        };
    }

    private static void TryNotify(string state)
    {
        if (SystemdNotify.TryNotify(state) is { } error)
            Log.Warning("Could not notify systemd ({State}): {Error}", state.Split('\n')[0], error);
    }

    /// <summary>Every event carries the node's process generation (1, or one more than its predecessor's) once it is known.</summary>
    private sealed class ProcessGenerationEnricher : Serilog.Core.ILogEventEnricher
    {
        public static readonly ProcessGenerationEnricher Instance = new();

        public int Generation { get; set; } = 1;

        public void Enrich(LogEvent logEvent, Serilog.Core.ILogEventPropertyFactory propertyFactory) =>
            logEvent.AddPropertyIfAbsent(propertyFactory.CreateProperty("ProcessGeneration", Generation));
    }
}
