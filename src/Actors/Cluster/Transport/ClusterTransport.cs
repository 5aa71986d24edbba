using Akka.Configuration;
using ShardRuntime.Actors.Settings;

namespace ShardRuntime.Actors.Cluster.Transport;

/// <summary>
/// Which transport a node's cluster runs on, and the words <c>status</c> uses for it. The decisions are pure functions
/// of the configuration: <see cref="Decide"/> for the host, which sets remoting up itself, and <see cref="OfActorSystem"/>
/// for any actor system ShardRuntime joins (a library user's included), which must not run a cluster that anyone who
/// reaches its port can command.
/// </summary>
/// <param name="Mode">None (a lone node), mutual TLS or insecure.</param>
/// <param name="Description">What <c>status</c> shows.</param>
public sealed record ClusterTransport(ClusterTransportMode Mode, string Description)
{
    /// <summary>The key of the seed nodes: a node with any runs remoting.</summary>
    public const string SeedNodesKey = "akka.cluster.seed-nodes";
    /// <summary>The key that runs the cluster over plain TCP with no authentication.</summary>
    public const string InsecureKey = "shard-runtime.cluster.insecure-transport";
    /// <summary>The block of the cluster's TLS transport (its PEM files).</summary>
    public const string TlsKey = "shard-runtime.cluster.tls";

    /// <summary>The scheme of node addresses over TLS (Akka.Remote's DotNetty transport with enable-ssl).</summary>
    public const string TlsScheme = "akka.ssl.tcp";

    /// <summary>The scheme of node addresses over plain TCP.</summary>
    public const string PlainScheme = "akka.tcp";

    /// <summary>A lone node: no remoting at all.</summary>
    public static readonly ClusterTransport Lone = new(ClusterTransportMode.None,
        "none: a lone node (no seed nodes, no cluster.tls) runs without remoting; no other process can reach its actors");

    /// <summary>A cluster over plain TCP, as <c>insecure-transport = on</c> asks.</summary>
    public static readonly ClusterTransport InsecureTcp = new(ClusterTransportMode.Insecure,
        $"INSECURE: plain TCP with no authentication ({InsecureKey} = on); any process that reaches the remoting port can command this node");

    /// <summary>Whether the cluster runs without authentication.</summary>
    public bool IsInsecure => Mode == ClusterTransportMode.Insecure;

    /// <summary>
    /// The host's decision. A node with seed nodes, <c>cluster.tls</c> or <c>insecure-transport = on</c> runs remoting
    /// (one with TLS and no seed nodes forms a cluster that others join); a node with none of them is a lone node with
    /// no remoting. Seed nodes without TLS are refused unless <c>insecure-transport = on</c>, and every seed address
    /// must use the transport's scheme. Throws <see cref="ShardRuntimeConfigurationException"/> saying what to set.
    /// </summary>
    public static ClusterTransport Decide(ClusterSettings cluster, IReadOnlyList<string> seedNodes)
    {
        if (cluster.Tls is { } tls)
        {
            RequireScheme(seedNodes, TlsScheme, $"the cluster runs over TLS ({TlsKey})");
            return new ClusterTransport(ClusterTransportMode.MutualTls,
                $"mutual TLS: peers must present a certificate signed by the CA in {tls.TrustedCa}");
        }
        if (cluster.InsecureTransport)
        {
            RequireScheme(seedNodes, PlainScheme, $"the cluster runs over plain TCP ({InsecureKey} = on)");
            return InsecureTcp;
        }
        if (seedNodes.Count > 0)
            throw new ShardRuntimeConfigurationException(TlsKey,
                $"is not set while the node has seed nodes ({string.Join(", ", seedNodes)}): a cluster runs over TLS with mutual " +
                $"authentication. Set {TlsKey}.certificate, .private-key and .trusted-ca (PEM files; deploy/cluster/certs.sh makes them; " +
                $"or SHARDRUNTIME_CLUSTER_TLS_CERTIFICATE, _TLS_PRIVATE_KEY, _TLS_TRUSTED_CA) and write the seed nodes as {TlsScheme}://..., " +
                $"or set {InsecureKey} = on for a network no one else can reach");
        return Lone;
    }

    /// <summary>
    /// The transport of an actor system ShardRuntime runs in, read from its configuration: local provider, none;
    /// Akka.Remote with <c>enable-ssl</c> and mutual authentication, TLS; anything else over the network is refused unless
    /// <c>insecure-transport = on</c>. Throws <see cref="ShardRuntimeConfigurationException"/> for the refusal.
    /// </summary>
    public static ClusterTransport OfActorSystem(Config config, bool remoteProvider, ClusterSettings cluster)
    {
        if (!remoteProvider) return Lone;
        const string dotNetty = "akka.remote.dot-netty.tcp";
        var ssl = config.GetBoolean($"{dotNetty}.enable-ssl", false);
        var mutual = config.GetBoolean($"{dotNetty}.ssl.require-mutual-authentication", true);
        if (ssl && mutual)
            return cluster.Tls is { } tls
                ? new ClusterTransport(ClusterTransportMode.MutualTls, $"mutual TLS: peers must present a certificate signed by the CA in {tls.TrustedCa}")
                : new ClusterTransport(ClusterTransportMode.MutualTls, $"mutual TLS ({dotNetty}.enable-ssl, the actor system's own certificate settings)");
        if (cluster.InsecureTransport) return InsecureTcp;
        throw new ShardRuntimeConfigurationException(ssl ? $"{dotNetty}.ssl.require-mutual-authentication" : $"{dotNetty}.enable-ssl",
            (ssl ? "is off: " : "is off while the actor system runs Akka.Remote: ") +
            "any process that reaches its port could command ShardRuntime's actors. Run remoting over TLS with mutual authentication " +
            $"(enable-ssl = on, ssl.require-mutual-authentication = on, or the host's {TlsKey}), or set {InsecureKey} = on for a network no one else can reach");
    }

    private static void RequireScheme(IReadOnlyList<string> seedNodes, string scheme, string because)
    {
        var wrong = seedNodes.Where(s => !s.StartsWith(scheme + "://", StringComparison.Ordinal)).ToList();
        if (wrong.Count > 0)
            throw new ShardRuntimeConfigurationException(SeedNodesKey,
                $"{string.Join(", ", wrong)}: {because}, so a seed node's address starts with {scheme}:// (for example {scheme}://shardruntime@10.0.0.1:4053)");
    }
}
