using System.Net.Sockets;
using System.Runtime.InteropServices;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Hosting;
using Akka.Cluster.Hosting.SBR;
using Akka.Hosting;
using Akka.Logger.Serilog;
using Akka.Remote.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Serilog;
using Serilog.Events;
using Serilog.Formatting.Json;
using ShardRuntime.Actors.Cluster.Transport;
using ShardRuntime.Actors.Coordinator;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Actors.Hosting;
using ShardRuntime.Runtime.Upgrade;
using ShardRuntime.Runtime.Systemd;
using ShardRuntime.Runtime.Sockets;
using PredecessorProtocol = ShardRuntime.Actors.Upgrade.Predecessor;
using ControlProtocol = ShardRuntime.Actors.Control.Control;
using ClusterProtocol = ShardRuntime.Actors.Cluster.ClusterListeners;
using CoordinatorProtocol = ShardRuntime.Actors.Coordinator.Coordinator;

namespace ShardRuntime.Host.Node;

/// <summary>
/// Runs a node: Serilog console logging (Akka's logging goes through it too), the generic host with Akka.Hosting,
/// a single-node cluster that joins itself unless seed nodes are configured, and ShardRuntime with the listeners
/// of the node's config. SIGTERM / Ctrl+C stop accepting, drain open connections up to the configured deadline
/// and exit 0.
/// </summary>
internal static class NodeRunner
{
    /// <summary>Exit code when start-up fails after the config was read (a listener could not be bound, ...).</summary>
    public const int StartupFailed = 1;

    /// <summary>Exit code when the configuration is unusable.</summary>
    public const int ConfigInvalid = Cli.ExitCodes.ConfigInvalid;

    public static async Task<int> RunAsync(NodeLaunch launch, CancellationToken cancellationToken)
    {
        var (configFile, controlSocket, jsonLogs) = (launch.ConfigFile, launch.ControlSocket, launch.JsonLogs);
        var logging = new LoggerConfiguration()
            .MinimumLevel.Information()
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
            .Enrich.FromLogContext()
            .Enrich.WithProperty("ProcessId", Environment.ProcessId)
            .Enrich.With(ProcessGenerationEnricher.Instance);
        // Listener, Shard and Connection are properties of every event about them: in JSON they are fields,
        // in text they are part of the rendered message.
        Log.Logger = (jsonLogs
                ? logging.WriteTo.Console(new JsonFormatter(renderMessage: true))
                : logging.WriteTo.Console(outputTemplate: "[{Timestamp:HH:mm:ss.fff} {Level:u3} {ProcessId} g{ProcessGeneration}] {Message:lj}{NewLine}{Exception}"))
            .CreateLogger();
        ActorSystem? system = null;
        try
        {
            NodeConfig config;
            try
            {
                config = NodeConfig.Load(configFile, controlSocket);
            }
            catch (NodeConfigException e)
            {
                Log.Fatal("Configuration error: {Error}", e.Message);
                return ConfigInvalid;
            }
            Log.Information("Starting ShardRuntime node {ProcessId} with {Config} ({Listeners} listeners)",
                Environment.ProcessId, config.Source, config.Settings.Listeners.Count);

            // The cluster's transport: none for a lone node; TLS with mutual authentication (its files read and checked
            // now, before anything binds); or plain TCP where the operator asked for it, said at every start.
            using var certificates = LoadCertificates(config);
            if (certificates is null && config.Settings.Cluster.Tls is not null) return ConfigInvalid;
            if (config.Transport.IsInsecure)
                Log.Warning("Cluster transport {Transport}", config.Transport.Description);
            else
                Log.Information("Cluster transport {Transport}", config.Transport.Description);

            // A second node started on a running node's configuration stops here, before it binds or inherits anything.
            if (!launch.IsSuccessor && await RunningNodeCheck.FindAsync(config.Settings) is { } alreadyRunning)
            {
                Log.Fatal("Not started: {Reason}", alreadyRunning);
                return StartupFailed;
            }

            // Sockets this process inherits: from the running node (a process upgrade), or from systemd.
            using var client = launch.IsSuccessor ? new UpgradeClient(config.Settings.Upgrade.StepTimeout) : null;
            UpgradeOptions upgrade;
            string? clusterAddress = null; // known once the actor system runs; a successor joins through it
            try
            {
                upgrade = await InheritAsync(launch, config, client, () => clusterAddress, cancellationToken);
                ProcessGenerationEnricher.Instance.Generation = upgrade.ProcessGeneration;
            }
            catch (UpgradeException e)
            {
                Log.Fatal("Upgrade failed, the running node keeps its sockets: {Reason}", e.Message);
                return StartupFailed;
            }
            catch (InvalidOperationException e)
            {
                Log.Fatal("Inherited sockets unusable: {Reason}", e.Message);
                return StartupFailed;
            }

            var clustered = config.Transport.Mode != ClusterTransportMode.None;
            var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
            builder.Services.AddSerilog();
            builder.Services.Configure<HostOptions>(o =>
                o.ShutdownTimeout = config.Settings.ShutdownDrainTimeout + TimeSpan.FromSeconds(30));
            builder.Services.AddAkka("shardruntime", akka =>
            {
                akka.ConfigureLoggers(loggers =>
                {
                    loggers.ClearLoggers();
                    loggers.AddLogger<SerilogLogger>();
                });
                if (clustered)
                {
                    akka.WithRemoting(RemoteOptionsFor(certificates));
                    // Keep-majority split-brain resolver (Akka's default, said here so that it is on whatever Akka's default
                    // becomes); a node it downs serves on (reference.conf: run-coordinated-shutdown-when-down = off).
                    akka.WithClustering(new ClusterOptions { SplitBrainResolver = SplitBrainResolverOption.Default });
                    // Nodes a change did not wait for, and the subscribers of the desired state, hear of it sooner than with
                    // Akka's defaults (2 s, 500 ms); set here, under the file, since Akka's own defaults outrank a fallback.
                    akka.AddHocon("akka.cluster.distributed-data { gossip-interval = 500ms, notify-subscribers-interval = 100ms }", HoconAddMode.Prepend);
                }
                // The node's file comes last so that anything it says (akka.* included) wins, but for a lone node's provider:
                // it has no remoting whatever the file says, so that no other process reaches its actors.
                akka.AddHocon(config.Config, HoconAddMode.Prepend);
                if (!clustered) akka.AddHocon("akka.actor.provider = local", HoconAddMode.Prepend);
                // A successor cannot bind its predecessor's fixed remoting port (held until the predecessor exits, after its
                // drain): it joins the cluster on a free port, through its seed nodes (the predecessor among them, if it is one).
                if (launch.IsSuccessor && config.Config.GetInt("akka.remote.dot-netty.tcp.port", 0) is var port and > 0)
                {
                    Log.Warning("Remoting port {Port} stays with the predecessor until it exits; this node joins the cluster on a free port instead", port);
                    akka.AddHocon("akka.remote.dot-netty.tcp.port = 0", HoconAddMode.Prepend);
                }
                // A successor joins its predecessor's cluster, and so its desired state, through the predecessor first.
                if (launch.IsSuccessor && Environment.GetEnvironmentVariable(NodeEnvironment.Predecessor) is { Length: > 0 } predecessor)
                {
                    var seeds = new[] { predecessor }.Concat(config.Config.GetStringList("akka.cluster.seed-nodes", [])).Distinct()
                        .Select(s => "\"" + s + "\"");
                    akka.AddHocon($"akka.cluster.seed-nodes = [{string.Join(", ", seeds)}]", HoconAddMode.Prepend);
                    Log.Information("Joining the cluster through the predecessor {Predecessor}", predecessor);
                }
                // `reload` and SIGHUP read the config file again: listeners follow it (added, removed, reconciled).
                akka.WithShardRuntime(o =>
                {
                    o.ReloadListeners = () => NodeConfig.Load(configFile, controlSocket).Settings.Listeners;
                    o.Upgrade = upgrade;
                });
                if (clustered) akka.AddStartup((system, _) =>
                {
                    var cluster = Cluster.Get(system);
                    clusterAddress = cluster.SelfAddress.ToString();
                    if (cluster.Settings.SeedNodes.Count == 0)
                        cluster.Join(cluster.SelfAddress); // a single node forms its own cluster
                });
            });

            using var host = builder.Build();
            await host.StartAsync(cancellationToken);

            // An actor system that ends on its own (Akka.Remote ends it when a TLS handshake to a peer fails) ends the
            // process too, with its reason's exit code: a node whose actors are gone must not linger as if it served.
            // Every wait of the start-up below ends with it.
            system = ActorSystemOf(host);
            var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
            using var running = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            _ = system.WhenTerminated.ContinueWith(_ =>
            {
                running.Cancel();
                lifetime.StopApplication();
            }, TaskScheduler.Default);

            var registry = host.Services.GetRequiredService<ActorRegistry>();
            var coordinator = await registry.GetAsync<CoordinatorProtocol.Marker>(running.Token);
            var started = await coordinator.Ask<object>(CoordinatorProtocol.WaitUntilStarted.Instance, TimeSpan.FromSeconds(60), running.Token);
            if (started is CoordinatorProtocol.CommandFailed failed)
            {
                Log.Fatal("Start-up failed: {Reason}", failed.Reason);
                client?.Dispose(); // before Ready: the running node rolls back and serves on
                await host.StopAsync(CancellationToken.None);
                return StartupFailed;
            }

            // In a cluster, the node is started once it has joined and applied the cluster's desired state; one that cannot
            // join within upgrade.step-timeout serves its own configuration meanwhile and follows once it has joined.
            if (registry.TryGet<ClusterProtocol.Marker>(out var clusterActor))
            {
                try
                {
                    var following = await clusterActor.Ask<ClusterProtocol.Following>(ClusterProtocol.WaitUntilFollowing.Instance, config.Settings.Upgrade.StepTimeout, running.Token);
                    Log.Information("Following the cluster's desired state: {State}", following.State);
                }
                catch (AskTimeoutException)
                {
                    Log.Warning("Not in the cluster within {Timeout} (seed nodes {Seeds}); serving this node's configuration, following the cluster once it has joined",
                        config.Settings.Upgrade.StepTimeout, string.Join(", ", Cluster.Get(ActorSystemOf(host)).Settings.SeedNodes));
                }
            }

            if (client is not null)
            {
                // In a cluster, the coordinator answers once it applied the cluster's desired state (or gave up waiting for it),
                // so that sockets of listeners only the cluster defines are adopted, not declined.
                var inheritance = await coordinator.Ask<CoordinatorProtocol.Inheritance>(CoordinatorProtocol.GetInheritance.Instance,
                    config.Settings.Upgrade.StepTimeout + config.Settings.Upgrade.StepTimeout, running.Token);
                ReadyAnswer release;
                try
                {
                    release = await client.SendReadyAsync(inheritance.Declined);
                }
                catch (UpgradeException e)
                {
                    Log.Error("Upgrade abandoned by the running node, which serves on: {Reason}; withdrawing", e.Message);
                    coordinator.Tell(CoordinatorProtocol.StandDown.Instance);
                    await host.WaitForShutdownAsync(CancellationToken.None);
                    return StartupFailed;
                }
                if (release == ReadyAnswer.Released)
                    Log.Information("Adopted {Adopted} listening sockets ({Declined} declined); the predecessor stops accepting and drains; process generation {Generation}",
                        inheritance.Adopted.Count, inheritance.Declined.Count, upgrade.ProcessGeneration);
                else
                    Log.Warning("The predecessor went away without confirming the upgrade; this node serves the sockets alone now");
                UpgradeCompletion.CompleteOnceLetGo(client, release, coordinator, config.Settings.Upgrade.StepTimeout + config.Settings.Upgrade.StepTimeout);
                // The control and upgrade socket paths are this node's now: its files replace the predecessor's.
                // The control and upgrade sockets are claimed next; this node serves the listening sockets whatever
                // happens to them (a failure is logged: the CLI or later upgrades cannot reach it then, nothing is lost).
                if (config.Settings.Upgrade.Enabled)
                    await ClaimAsync("upgrade", async () =>
                    {
                        var upgrade = await ActorSystemOf(host).ActorSelection($"/user/{CoordinatorProtocol.ActorName}/{PredecessorProtocol.ActorName}")
                            .ResolveOne(TimeSpan.FromSeconds(10), running.Token);
                        var claimed = await upgrade.Ask<object>(PredecessorProtocol.Claim.Instance, TimeSpan.FromSeconds(30), running.Token);
                        return claimed is PredecessorProtocol.BindFailed failed ? failed.Reason : null;
                    });
                if (config.Settings.Control.Enabled)
                    await ClaimAsync("control", async () =>
                    {
                        var control = await registry.GetAsync<ControlProtocol.Marker>(running.Token);
                        var claimed = await control.Ask<object>(ControlProtocol.Claim.Instance, TimeSpan.FromSeconds(30), running.Token);
                        return claimed is ControlProtocol.BindFailed failed ? failed.Reason : null;
                    });
                TryNotify($"MAINPID={Environment.ProcessId}\nREADY=1\nSTATUS=adopted the sockets of its predecessor (process generation {upgrade.ProcessGeneration})");
            }
            else if (config.Settings.Control.Enabled)
            {
                var control = await registry.GetAsync<ControlProtocol.Marker>(running.Token);
                var bound = await control.Ask<object>(ControlProtocol.WaitUntilBound.Instance, TimeSpan.FromSeconds(60), running.Token);
                if (bound is ControlProtocol.BindFailed bindFailed)
                {
                    Log.Fatal("Start-up failed: control socket {SocketPath}: {Reason}", bindFailed.SocketPath, bindFailed.Reason);
                    await host.StopAsync(CancellationToken.None);
                    return StartupFailed;
                }
                Log.Information("Control socket {SocketPath} ready", config.Settings.Control.SocketPath);
            }

            if (client is null) TryNotify($"READY=1\nSTATUS=serving {config.Settings.Listeners.Count} listener(s), process generation {upgrade.ProcessGeneration}");

            // SIGHUP reloads the config file's listeners and every listener's handler, as `reload` does.
            if (HangupSignal.TakeBackIfIgnored())
                Log.Information("SIGHUP was ignored when the node started (nohup?); the node handles it: SIGHUP reloads");
            using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, signal =>
            {
                signal.Cancel = true;
                Log.Information("SIGHUP: reloading the configuration and every listener's handler");
                ActorSystemOf(host).EventStream.Publish(ControlProtocol.CheckSocketFiles.Instance); // and a deleted socket file is bound again
                TryNotify($"RELOADING=1\nMONOTONIC_USEC={System.Diagnostics.Stopwatch.GetTimestamp() / (System.Diagnostics.Stopwatch.Frequency / 1_000_000)}");
                coordinator.Ask<object>(new CoordinatorProtocol.Reload(null), TimeSpan.FromMinutes(1)).ContinueWith(t =>
                {
                    TryNotify("READY=1");
                    if (t.IsCompletedSuccessfully && t.Result is CoordinatorProtocol.CommandFailed refused)
                        Log.Warning("SIGHUP reload refused: {Reason}", refused.Reason);
                    else if (!t.IsCompletedSuccessfully)
                        Log.Warning("SIGHUP reload did not complete: {Error}", t.Exception?.GetBaseException().Message ?? "cancelled");
                }, TaskScheduler.Default);
            });

            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ => TryNotify("STOPPING=1"));
            Log.Information("Node {ProcessId} serving; send SIGTERM or press Ctrl+C to drain and stop, SIGHUP to reload handlers", Environment.ProcessId);
            await host.WaitForShutdownAsync(cancellationToken);
            if (StoppedByActorSystem(system) is { } exitCode) return exitCode;
            Log.Information("Node {ProcessId} stopped", Environment.ProcessId);
            return 0;
        }
        catch (Exception e) when (e is OperationCanceledException or AskTimeoutException && system is { WhenTerminated.IsCompleted: true }
                                  && StoppedByActorSystem(system) is { } exitCode)
        {
            return exitCode;
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

    /// <summary>Remoting on 127.0.0.1, any port (the file and the environment say otherwise); TLS with mutual authentication against the trusted CA when there are certificates.</summary>
    private static RemoteOptions RemoteOptionsFor(ClusterCertificates? certificates)
    {
        var options = new RemoteOptions { HostName = "127.0.0.1", Port = 0 };
        if (certificates is null) return options;
        options.EnableSsl = true;
        options.Ssl = new SslOptions
        {
            X509Certificate = certificates.Certificate,
            SuppressValidation = false,
            RequireMutualAuthentication = true,
            // Members are known by address, not by name: the CA's signature is the identity, checked by the validator.
            ValidateCertificateHostname = false,
            CustomValidator = certificates.Validator(),
        };
        return options;
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
    /// The sockets this process starts with. <c>--upgrade-from</c>: received from the running node through its upgrade
    /// socket (throws <see cref="UpgradeException"/> when it refuses or fails; it keeps them then). Otherwise systemd's
    /// (LISTEN_FDS, labelled with their FileDescriptorName=, which names the listener), or none.
    /// </summary>
    private static async Task<UpgradeOptions> InheritAsync(
        NodeLaunch launch, NodeConfig config, UpgradeClient? client, Func<string?> clusterAddress, CancellationToken cancellationToken)
    {
        var upgrade = config.Settings.Upgrade;
        Func<string, System.Diagnostics.Process> startSuccessor = upgradeSocket => SuccessorCommand.Start(launch, upgradeSocket, clusterAddress());
        if (client is not null)
        {
            var path = string.IsNullOrEmpty(launch.PredecessorSocket) ? upgrade.SocketPath : launch.PredecessorSocket;
            Log.Information("Adopting the listening sockets of the node serving {UpgradeSocket}", path);
            var sockets = await client.ReceiveAsync(path, cancellationToken);
            Log.Information("Received {Count} listening sockets: {Sockets}", sockets.Count, string.Join(", ", sockets.Select(s => s.Label)));
            return new UpgradeOptions
            {
                Inherited = sockets,
                InheritedFrom = $"the node at {path} (process generation {client.PredecessorGeneration})",
                ProcessGeneration = client.PredecessorGeneration + 1,
                DeferSocketFiles = true,
                StartSuccessor = startSuccessor,
            };
        }

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

    /// <summary>Runs one claim of a socket path after a upgrade; a failure (its reason, or an exception) is logged, never fatal.</summary>
    private static async Task ClaimAsync(string what, Func<Task<string?>> claim)
    {
        try
        {
            if (await claim() is { } reason)
                Log.Error("The {Socket} socket was not taken over; this node serves on without it: {Reason}", what, reason);
            else
                Log.Information("The {Socket} socket is this node's now", what);
        }
        catch (Exception e) when (e is AskTimeoutException or ActorNotFoundException or OperationCanceledException)
        {
            Log.Error("The {Socket} socket was not taken over; this node serves on without it: {Error}", what, e.Message);
        }
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
