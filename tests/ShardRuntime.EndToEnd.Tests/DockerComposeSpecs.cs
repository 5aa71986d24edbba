using System.Text.RegularExpressions;
using Akka.Configuration;
using ShardRuntime.Actors.Settings;
using ShardRuntime.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests;

/// <summary>
/// docker-compose.yml at the repository root, checked without a Docker engine (none runs here or in CI): Debian's
/// docker-compose validates it, then prints it normalised (anchors merged, paths absolute), and the spec reads the
/// cluster from that output rather than from the file as written.
/// </summary>
public sealed partial class DockerComposeSpecs(ITestOutputHelper output)
{
    private const string ComposeFile = "docker-compose.yml";
    private const string MountedConfig = "config/hocon";
    private const string ConfigTarget = "/etc/shardruntime";
    private const string CertificatesDirectory = "deploy/cluster/certs";
    private const string CertificatesTarget = "/etc/shardruntime-tls";

    [SkippableFact]
    public async Task Docker_compose_file_must_be_valid_and_describe_a_three_node_cluster()
    {
        await ComposeTool.EnsureInstalledAsync(output);
        var file = RepositoryFiles.PathOf(ComposeFile);

        var check = await ComposeTool.RunAsync("-f", file, "config", "-q");
        output.WriteLine($"docker-compose -f {ComposeFile} config -q: {check}");
        Assert.True(check.ExitCode == 0, $"docker-compose rejects {file}\n{check}");
        var normalised = await ComposeTool.RunAsync("-f", file, "config");
        Assert.True(normalised.ExitCode == 0, normalised.ToString());
        output.WriteLine(normalised.StdOut);
        var services = ComposeService.ReadAll(normalised.StdOut);
        var names = string.Join(", ", services.Select(s => s.Name));

        // Three nodes of one image, built once: one service builds it, the others start after that one.
        Assert.True(services.Count == 3, $"expected three services, got {services.Count}: {names}");
        Assert.True(services.Select(s => s.Image).Distinct().Count() == 1 && services[0].Image is not null,
            $"every service must run the same image: {string.Join(", ", services.Select(s => $"{s.Name}={s.Image}"))}");
        var builders = services.Where(s => s.Build is not null).ToList();
        var builder = builders.Count == 1 ? builders[0] : throw new Xunit.Sdk.XunitException($"exactly one service must build the image, not {builders.Count}");
        var dockerfile = Path.Combine(builder.Build!.Context, builder.Build.Dockerfile);
        Assert.True(File.Exists(dockerfile), $"{builder.Name} builds from {dockerfile}, which does not exist");
        foreach (var node in services.Where(s => s != builder))
            Assert.True(node.DependsOn.Contains(builder.Name), $"{node.Name} must depend on {builder.Name}, which builds its image");

        // Every node names the same seed nodes: all three nodes, the seed service first (only the first seed may form a
        // cluster alone, so the seed does at the first start). A node that restarts (the seed too) finds the running
        // others among its seeds and joins them rather than forming a cluster of its own.
        var seedList = SeedNodes(services[0]).ToList();
        foreach (var node in services)
            Assert.True(SeedNodes(node).SequenceEqual(seedList), $"{node.Name} must name the seed nodes {string.Join(",", seedList)}, it names '{Variable(node, "SHARDRUNTIME_CLUSTER_SEED_NODES")}'");
        Assert.True(seedList.Order().SequenceEqual(services.Select(Address).Order()),
            $"the seed nodes must be every node ({string.Join(", ", services.Select(Address))}), they are {string.Join(", ", seedList)}");
        var seed = services.Single(s => Address(s) == seedList[0]);
        // Each node is reached at its service name on a fixed remoting port; remoting and listeners bind all addresses.
        foreach (var node in services)
        {
            Assert.True(Variable(node, "SHARDRUNTIME_CLUSTER_PUBLIC_HOSTNAME") == node.Name, $"{node.Name} must be reached at its service name");
            Assert.True(int.TryParse(Variable(node, "SHARDRUNTIME_CLUSTER_PORT"), out var port) && port > 0, $"{node.Name} needs a fixed remoting port");
            Assert.Equal("0.0.0.0", Variable(node, "SHARDRUNTIME_CLUSTER_HOSTNAME"));
            Assert.Equal("0.0.0.0", Variable(node, "SHARDRUNTIME_BIND_ADDRESS"));
        }

        // The cluster runs over mutual TLS: every node trusts the same CA and presents its own certificate and key, from
        // the directory deploy/cluster/certs.sh writes, mounted read-only (no node starts with seed nodes and no TLS).
        var certificates = RepositoryFiles.PathOf(CertificatesDirectory);
        foreach (var node in services)
        {
            Assert.True(node.Mounts.Contains(new ComposeService.Mount(certificates, CertificatesTarget, ReadOnly: true)),
                $"{node.Name} must mount {certificates} read-only at {CertificatesTarget}; it mounts: {string.Join(", ", node.Mounts)}");
            Assert.Equal($"{CertificatesTarget}/ca.pem", Variable(node, "SHARDRUNTIME_CLUSTER_TLS_TRUSTED_CA"));
            Assert.Equal($"{CertificatesTarget}/{node.Name}.pem", Variable(node, "SHARDRUNTIME_CLUSTER_TLS_CERTIFICATE"));
            Assert.Equal($"{CertificatesTarget}/{node.Name}-key.pem", Variable(node, "SHARDRUNTIME_CLUSTER_TLS_PRIVATE_KEY"));
            Assert.Equal("", Variable(node, "SHARDRUNTIME_CLUSTER_INSECURE_TRANSPORT"));
        }
        Assert.Contains("deploy/cluster/certs.sh", await File.ReadAllTextAsync(file));

        // config/hocon mounted read-only where the image's command reads shard-runtime.conf.
        var configDirectory = RepositoryFiles.PathOf(MountedConfig);
        foreach (var node in services)
            Assert.True(node.Mounts.Contains(new ComposeService.Mount(configDirectory, ConfigTarget, ReadOnly: true)),
                $"{node.Name} must mount {configDirectory} read-only at {ConfigTarget}; it mounts: {string.Join(", ", node.Mounts)}");
        Assert.Contains($"\"{ConfigTarget}/shard-runtime.conf\"", await File.ReadAllTextAsync(dockerfile));

        // Each node publishes every listener port of that configuration, on host ports no other node publishes.
        var settings = ShardRuntimeSettings.Create(ConfigurationFactory.ParseString(
            await File.ReadAllTextAsync(Path.Combine(configDirectory, "shard-runtime.conf"))));
        var listenerPorts = settings.Listeners.Select(l => l.EndPoint.Port).Order().ToList();
        foreach (var node in services)
            Assert.True(node.Ports.Select(p => p.Target).Order().SequenceEqual(listenerPorts),
                $"{node.Name} must publish the listener ports {string.Join(", ", listenerPorts)}; it publishes {string.Join(", ", node.Ports)}");
        var published = services.SelectMany(s => s.Ports.Select(p => (Node: s.Name, p.Published))).ToList();
        var shared = published.GroupBy(p => p.Published).Where(g => g.Count() > 1).ToList();
        Assert.True(shared.Count == 0, $"host ports published twice: {string.Join("; ", shared.Select(g => $"{g.Key} by {string.Join(", ", g.Select(p => p.Node))}"))}");

        // Docker kills a container stop_grace_period after SIGTERM: a node needs its drain timeout and a margin.
        foreach (var node in services)
            Assert.True(node.StopGracePeriod > settings.ShutdownDrainTimeout,
                $"{node.Name}: stop_grace_period {node.StopGracePeriod} must be longer than shard-runtime.shutdown.drain-timeout {settings.ShutdownDrainTimeout}");
    }

    private static string Variable(ComposeService node, string name) => node.Environment.GetValueOrDefault(name, "");

    /// <summary>The seed node addresses a node joins (SHARDRUNTIME_CLUSTER_SEED_NODES, comma-separated).</summary>
    private static IEnumerable<string> SeedNodes(ComposeService node)
    {
        var seeds = Variable(node, "SHARDRUNTIME_CLUSTER_SEED_NODES").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var seed in seeds)
            Assert.True(SeedAddress().IsMatch(seed), $"{node.Name}: '{seed}' is no seed address such as akka.ssl.tcp://shardruntime@seed:4053");
        return seeds;
    }

    /// <summary>The address the other nodes reach <paramref name="node"/> at.</summary>
    private static string Address(ComposeService node) =>
        $"akka.ssl.tcp://shardruntime@{Variable(node, "SHARDRUNTIME_CLUSTER_PUBLIC_HOSTNAME")}:{Variable(node, "SHARDRUNTIME_CLUSTER_PORT")}";

    [GeneratedRegex(@"^akka\.ssl\.tcp://shardruntime@[^:/@]+:[1-9][0-9]*$")]
    private static partial Regex SeedAddress();
}
