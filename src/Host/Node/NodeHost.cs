using System.Runtime.CompilerServices;
using Akka.Cluster;
using Akka.Cluster.Hosting;
using Akka.Cluster.Hosting.SBR;
using Akka.Hosting;
using Akka.Logger.Serilog;
using Akka.Remote.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Serilog;
using ShardRuntime.Actors.Cluster.Transport;
using ShardRuntime.Actors.Coordination;
using ShardRuntime.Actors.Hosting;

namespace ShardRuntime.Host.Node;

/// <summary>
/// Builds a node's generic host: Serilog, Akka.Hosting with the node's file over reference.conf, remoting and
/// clustering when the node has seed nodes (a lone node has no remoting at all), and ShardRuntime with the sockets the
/// process adopted.
/// </summary>
internal static class NodeHost
{
    /// <param name="clusterAddress">Filled in with this node's cluster address once its actor system runs.</param>
    public static IHost Build(NodeLaunch launch, NodeConfig config, ClusterCertificates? certificates, UpgradeOptions upgrade,
        StrongBox<string?> clusterAddress)
    {
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
            if (clustered) AddCluster(akka, certificates);
            // The node's file comes last so that anything it says (akka.* included) wins, but for a lone node's provider:
            // it has no remoting whatever the file says, so that no other process reaches its actors.
            akka.AddHocon(config.Config, HoconAddMode.Prepend);
            if (!clustered) akka.AddHocon("akka.actor.provider = local", HoconAddMode.Prepend);
            if (launch.IsSuccessor) JoinAsSuccessor(akka, config);
            // `reload` and SIGHUP read the config file again: listeners follow it (added, removed, reconciled).
            akka.WithShardRuntime(o =>
            {
                o.ReloadListeners = () => NodeConfig.Load(launch.ConfigFile, launch.ControlSocket).Settings.Listeners;
                o.Upgrade = upgrade;
            });
            if (clustered) akka.AddStartup((system, _) =>
            {
                var cluster = Cluster.Get(system);
                clusterAddress.Value = cluster.SelfAddress.ToString();
                if (cluster.Settings.SeedNodes.Count == 0)
                    cluster.Join(cluster.SelfAddress); // a single node forms its own cluster
            });
        });
        return builder.Build();
    }

    private static void AddCluster(AkkaConfigurationBuilder akka, ClusterCertificates? certificates)
    {
        akka.WithRemoting(RemoteOptionsFor(certificates));
        // Keep-majority split-brain resolver (Akka's default, said here so that it is on whatever Akka's default
        // becomes); a node it downs serves on (reference.conf: run-coordinated-shutdown-when-down = off).
        akka.WithClustering(new ClusterOptions { SplitBrainResolver = SplitBrainResolverOption.Default });
        // Nodes a change did not wait for, and the subscribers of the desired state, hear of it sooner than with
        // Akka's defaults (2 s, 500 ms); set here, under the file, since Akka's own defaults outrank a fallback.
        akka.AddHocon("akka.cluster.distributed-data { gossip-interval = 500ms, notify-subscribers-interval = 100ms }", HoconAddMode.Prepend);
    }

    /// <summary>
    /// A successor cannot bind its predecessor's fixed remoting port (held until the predecessor exits, after its drain):
    /// it joins the cluster on a free port, through its seed nodes, the predecessor first (and so its desired state).
    /// </summary>
    private static void JoinAsSuccessor(AkkaConfigurationBuilder akka, NodeConfig config)
    {
        if (config.Config.GetInt("akka.remote.dot-netty.tcp.port", 0) is var port and > 0)
        {
            Log.Warning("Remoting port {Port} stays with the predecessor until it exits; this node joins the cluster on a free port instead", port);
            akka.AddHocon("akka.remote.dot-netty.tcp.port = 0", HoconAddMode.Prepend);
        }
        if (Environment.GetEnvironmentVariable(NodeEnvironment.Predecessor) is not { Length: > 0 } predecessor) return;
        var seeds = new[] { predecessor }.Concat(config.Config.GetStringList("akka.cluster.seed-nodes", [])).Distinct()
            .Select(s => "\"" + s + "\"");
        akka.AddHocon($"akka.cluster.seed-nodes = [{string.Join(", ", seeds)}]", HoconAddMode.Prepend);
        Log.Information("Joining the cluster through the predecessor {Predecessor}", predecessor);
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
}
