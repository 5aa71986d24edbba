using Akka.Configuration;

namespace ShardRuntime.Actors.Settings;

/// <summary>
/// The cluster-wide desired state of listeners (<c>shard-runtime.cluster</c>): whether this node takes part, and the
/// bounds on writing it, asking the other nodes and a rolling reload.
/// </summary>
/// <param name="Enabled">Whether the node follows (and may change) the cluster's desired state; only in a cluster actor system.</param>
/// <param name="WriteTimeout">The longest a change waits for a majority of the nodes (all reachable ones, first) to store it.</param>
/// <param name="StatusTimeout">The longest <c>status --cluster</c> waits for each node's answer.</param>
/// <param name="RetryInterval">How soon a node tries again to bring its listeners to the desired state after its coordinator refused.</param>
/// <param name="ReloadStepTimeout">The longest one node of a rolling reload may take: its reload, then its old generations' drain.</param>
/// <param name="ReloadTimeout">The longest a whole rolling reload may take.</param>
/// <param name="Tls">The PEM files of the cluster's TLS transport (<c>tls</c>); null when none is set.</param>
/// <param name="InsecureTransport">The operator allowed a cluster over plain TCP (<c>insecure-transport = on</c>).</param>
public sealed record ClusterSettings(
    bool Enabled, TimeSpan WriteTimeout, TimeSpan StatusTimeout, TimeSpan RetryInterval, TimeSpan ReloadStepTimeout, TimeSpan ReloadTimeout,
    ClusterTlsSettings? Tls = null, bool InsecureTransport = false)
{
    /// <summary>Reads the block <paramref name="cluster"/>, found at <paramref name="path"/> (named in errors).</summary>
    public static ClusterSettings Create(Config cluster, string path)
    {
        var r = new ConfigReader(cluster, path);
        var step = r.GetDuration("rolling-reload.step-timeout", TimeSpan.FromMilliseconds(1));
        var whole = r.GetDuration("rolling-reload.timeout", TimeSpan.FromMilliseconds(1));
        if (whole < step)
            throw new ShardRuntimeConfigurationException(r.KeyOf("rolling-reload.timeout"), $"{whole} must be at least rolling-reload.step-timeout ({step})");
        return new ClusterSettings(
            Enabled: r.GetBool("enabled"),
            WriteTimeout: r.GetDuration("write-timeout", TimeSpan.FromMilliseconds(1)),
            StatusTimeout: r.GetDuration("status-timeout", TimeSpan.FromMilliseconds(1)),
            RetryInterval: r.GetDuration("retry-interval", TimeSpan.FromMilliseconds(1)),
            ReloadStepTimeout: step,
            ReloadTimeout: whole,
            Tls: ClusterTlsSettings.Create(cluster.GetConfig("tls") ?? Config.Empty, r.KeyOf("tls")),
            InsecureTransport: r.GetBool("insecure-transport"));
    }
}
