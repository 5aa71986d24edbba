using System.Runtime.InteropServices;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using Akka.Logger.Serilog;
using Akka.Remote.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Serilog;
using Serilog.Events;
using Serilog.Formatting.Json;
using ShardRuntime.Actors.Hosting;
using ControlProtocol = ShardRuntime.Actors.Control.Control;
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
    public const int ConfigInvalid = 2;

    public static async Task<int> RunAsync(FileInfo? configFile, string? controlSocket, bool jsonLogs, CancellationToken cancellationToken)
    {
        var logging = new LoggerConfiguration()
            .MinimumLevel.Information()
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
            .Enrich.FromLogContext();
        // Listener, Shard and Connection are properties of every event about them: in JSON they are fields,
        // in text they are part of the rendered message.
        Log.Logger = (jsonLogs
                ? logging.WriteTo.Console(new JsonFormatter(renderMessage: true))
                : logging.WriteTo.Console(outputTemplate: "[{Timestamp:HH:mm:ss.fff} {Level:u3}] {Message:lj}{NewLine}{Exception}"))
            .CreateLogger();
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
                akka.WithRemoting("127.0.0.1", 0);
                akka.WithClustering(new ClusterOptions());
                // The node's file comes last so that anything it says (akka.* included) wins.
                akka.AddHocon(config.Config, HoconAddMode.Prepend);
                // `reload` and SIGHUP read the config file again: listeners follow it (added, removed, reconciled).
                akka.WithShardRuntime(o => o.ReloadListeners = () => NodeConfig.Load(configFile, controlSocket).Settings.Listeners);
                akka.AddStartup((system, _) =>
                {
                    var cluster = Cluster.Get(system);
                    if (cluster.Settings.SeedNodes.Count == 0)
                        cluster.Join(cluster.SelfAddress); // a single node forms its own cluster
                });
            });

            using var host = builder.Build();
            await host.StartAsync(cancellationToken);

            var registry = host.Services.GetRequiredService<ActorRegistry>();
            var coordinator = await registry.GetAsync<CoordinatorProtocol.Marker>(cancellationToken);
            var started = await coordinator.Ask<object>(CoordinatorProtocol.WaitUntilStarted.Instance, TimeSpan.FromSeconds(60), cancellationToken);
            if (started is CoordinatorProtocol.CommandFailed failed)
            {
                Log.Fatal("Start-up failed: {Reason}", failed.Reason);
                await host.StopAsync(CancellationToken.None);
                return StartupFailed;
            }

            if (config.Settings.Control.Enabled)
            {
                var control = await registry.GetAsync<ControlProtocol.Marker>(cancellationToken);
                var bound = await control.Ask<object>(ControlProtocol.WaitUntilBound.Instance, TimeSpan.FromSeconds(60), cancellationToken);
                if (bound is ControlProtocol.BindFailed bindFailed)
                {
                    Log.Fatal("Start-up failed: control socket {SocketPath}: {Reason}", bindFailed.SocketPath, bindFailed.Reason);
                    await host.StopAsync(CancellationToken.None);
                    return StartupFailed;
                }
                Log.Information("Control socket {SocketPath} ready", config.Settings.Control.SocketPath);
            }

            // SIGHUP reloads the config file's listeners and every listener's handler, as `reload` does.
            using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, signal =>
            {
                signal.Cancel = true;
                Log.Information("SIGHUP: reloading the configuration and every listener's handler");
                coordinator.Ask<object>(new CoordinatorProtocol.Reload(null), TimeSpan.FromMinutes(1)).ContinueWith(t =>
                {
                    if (t.IsCompletedSuccessfully && t.Result is CoordinatorProtocol.CommandFailed refused)
                        Log.Warning("SIGHUP reload refused: {Reason}", refused.Reason);
                    else if (!t.IsCompletedSuccessfully)
                        Log.Warning("SIGHUP reload did not complete: {Error}", t.Exception?.GetBaseException().Message ?? "cancelled");
                }, TaskScheduler.Default);
            });

            Log.Information("Node {ProcessId} serving; send SIGTERM or press Ctrl+C to drain and stop, SIGHUP to reload handlers", Environment.ProcessId);
            await host.WaitForShutdownAsync(cancellationToken);
            Log.Information("Node {ProcessId} stopped", Environment.ProcessId);
            return 0;
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
}
