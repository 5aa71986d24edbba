using System.Globalization;
using System.Net;
using System.Text;
using Akka.Actor;
using Akka.Configuration;

namespace ShardRuntime.Host.Node;

/// <summary>
/// The environment variables a node reads at start (and on every reload of its file), for containers and scripts that
/// run many nodes on one configuration. They override the file. Each malformed value is a
/// <see cref="NodeConfigException"/> naming the variable.
/// </summary>
internal static class NodeEnvironment
{
    /// <summary>Address remoting binds (akka.remote.dot-netty.tcp.hostname).</summary>
    public const string Hostname = "SHARDRUNTIME_CLUSTER_HOSTNAME";

    /// <summary>Remoting port (akka.remote.dot-netty.tcp.port); 0: any free port.</summary>
    public const string Port = "SHARDRUNTIME_CLUSTER_PORT";

    /// <summary>Address the other nodes reach this one at (akka.remote.dot-netty.tcp.public-hostname).</summary>
    public const string PublicHostname = "SHARDRUNTIME_CLUSTER_PUBLIC_HOSTNAME";

    /// <summary>Comma-separated seed node addresses (akka.cluster.seed-nodes), e.g. akka.tcp://shardruntime@10.0.0.1:4053.</summary>
    public const string SeedNodes = "SHARDRUNTIME_CLUSTER_SEED_NODES";

    /// <summary>Comma-separated roles of this node (akka.cluster.roles).</summary>
    public const string Roles = "SHARDRUNTIME_CLUSTER_ROLES";

    /// <summary>This node's certificate for the cluster's TLS, a PEM file (shard-runtime.cluster.tls.certificate).</summary>
    public const string TlsCertificate = "SHARDRUNTIME_CLUSTER_TLS_CERTIFICATE";

    /// <summary>Its private key, a PEM file (shard-runtime.cluster.tls.private-key).</summary>
    public const string TlsPrivateKey = "SHARDRUNTIME_CLUSTER_TLS_PRIVATE_KEY";

    /// <summary>The CA certificate(s) the node trusts, a PEM file (shard-runtime.cluster.tls.trusted-ca).</summary>
    public const string TlsTrustedCa = "SHARDRUNTIME_CLUSTER_TLS_TRUSTED_CA";

    /// <summary>on: a cluster over plain TCP with no authentication is allowed (shard-runtime.cluster.insecure-transport).</summary>
    public const string InsecureTransport = "SHARDRUNTIME_CLUSTER_INSECURE_TRANSPORT";

    /// <summary>Address every listener binds, with its endpoint's port (shard-runtime.bind-address).</summary>
    public const string BindAddress = "SHARDRUNTIME_BIND_ADDRESS";

    /// <summary>
    /// Set by a node for the successor it starts (an upgrade): its own cluster address, which the successor puts first
    /// among its seed nodes, so that it joins its predecessor's cluster (and its desired state) even where no seed node is
    /// configured. Read only with <c>run --upgrade-from</c>.
    /// </summary>
    public const string Predecessor = "SHARDRUNTIME_UPGRADE_PREDECESSOR";

    /// <summary>The HOCON the set variables stand for (empty when none is set).</summary>
    public static Config Read(Func<string, string?>? lookup = null)
    {
        lookup ??= Environment.GetEnvironmentVariable;
        string? Get(string name) => lookup(name) is { } value && !string.IsNullOrWhiteSpace(value) ? value.Trim() : null;

        var hocon = new StringBuilder();
        if (Get(Hostname) is { } hostname)
            hocon.Append("akka.remote.dot-netty.tcp.hostname = ").Append(Quote(hostname)).Append('\n');
        if (Get(Port) is { } port)
        {
            if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number > 65535)
                throw new NodeConfigException($"environment variable {Port}", $"expected a port number from 0 to 65535, got '{port}'");
            hocon.Append(CultureInfo.InvariantCulture, $"akka.remote.dot-netty.tcp.port = {number}\n");
        }
        if (Get(PublicHostname) is { } publicHostname)
            hocon.Append("akka.remote.dot-netty.tcp.public-hostname = ").Append(Quote(publicHostname)).Append('\n');
        if (Get(SeedNodes) is { } seeds)
        {
            var addresses = Split(seeds);
            foreach (var seed in addresses)
            {
                if (!Address.TryParse(seed, out var address) || address.Host is null || address.Port is null)
                    throw new NodeConfigException($"environment variable {SeedNodes}",
                        $"'{seed}' is not a node address such as akka.tcp://shardruntime@127.0.0.11:4053");
            }
            hocon.Append("akka.cluster.seed-nodes = [").AppendJoin(", ", addresses.Select(Quote)).Append("]\n");
        }
        if (Get(Roles) is { } roles)
            hocon.Append("akka.cluster.roles = [").AppendJoin(", ", Split(roles).Select(Quote)).Append("]\n");
        foreach (var (variable, key) in new[] { (TlsCertificate, "certificate"), (TlsPrivateKey, "private-key"), (TlsTrustedCa, "trusted-ca") })
        {
            if (Get(variable) is { } file)
                hocon.Append("shard-runtime.cluster.tls.").Append(key).Append(" = ").Append(Quote(file)).Append('\n');
        }
        if (Get(InsecureTransport) is { } insecure)
        {
            if (insecure.ToLowerInvariant() is not ("on" or "off" or "true" or "false"))
                throw new NodeConfigException($"environment variable {InsecureTransport}", $"expected on or off, got '{insecure}'");
            hocon.Append("shard-runtime.cluster.insecure-transport = ").Append(insecure.ToLowerInvariant()).Append('\n');
        }
        if (Get(BindAddress) is { } bind)
        {
            if (!IPAddress.TryParse(bind.Trim('[', ']'), out _))
                throw new NodeConfigException($"environment variable {BindAddress}", $"expected an IP address such as 127.0.0.12 or 0.0.0.0, got '{bind}'");
            hocon.Append("shard-runtime.bind-address = ").Append(Quote(bind)).Append('\n');
        }
        return hocon.Length == 0 ? Config.Empty : ConfigurationFactory.ParseString(hocon.ToString());
    }

    private static List<string> Split(string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();

    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
