using Akka.Configuration;

namespace ShardRuntime.Actors.Settings;

/// <summary>The local control socket the command-line tool talks to (<c>shard-runtime.control</c>).</summary>
public sealed record ControlSettings(bool Enabled, string SocketPath, int MaxRequestBytes, TimeSpan RequestTimeout)
{
    /// <summary>
    /// How long the control socket waits for the answer to <c>upgrade</c>: the upgrade's own timeout and the steps
    /// after Ready (from <c>shard-runtime.upgrade</c>; the request timeout when that section is not read).
    /// </summary>
    public TimeSpan UpgradeAnswerTimeout { get; init; } = RequestTimeout;

    /// <summary>
    /// How long the control socket waits for the answer to <c>reload --cluster</c>: a whole rolling reload (from
    /// <c>shard-runtime.cluster.rolling-reload.timeout</c>; the request timeout when that section is not read).
    /// </summary>
    public TimeSpan ReloadAnswerTimeout { get; init; } = RequestTimeout;

    /// <summary>
    /// How long the control socket waits for the answer to a change of the cluster's desired state: two writes (to all
    /// nodes, then to a majority) of <c>shard-runtime.cluster.write-timeout</c>, and the request timeout.
    /// </summary>
    public TimeSpan ClusterChangeAnswerTimeout { get; init; } = RequestTimeout;

    public static ControlSettings Create(Config control, string path)
    {
        var r = new ConfigReader(control, path);
        var socketPath = r.GetString("socket-path", allowEmpty: true);
        return new ControlSettings(
            Enabled: r.GetBool("enabled"),
            SocketPath: socketPath.Length == 0 ? DefaultSocketPath() : socketPath,
            MaxRequestBytes: (int)r.GetBytes("max-request-bytes", 64, 16 * 1024 * 1024),
            RequestTimeout: r.GetDuration("request-timeout", TimeSpan.FromMilliseconds(1)));
    }

    /// <summary>
    /// Where the control socket lives when no path is configured: $XDG_RUNTIME_DIR/shardruntime, else
    /// /run/shardruntime for root and /tmp/shardruntime-&lt;uid&gt; for other users.
    /// </summary>
    public static string DefaultSocketPath()
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        if (!string.IsNullOrEmpty(xdg))
            return Path.Combine(xdg, "shardruntime", "control.sock");
        var uid = Runtime.Sockets.ProcessIdentity.EffectiveUserId;
        return uid == 0 ? "/run/shardruntime/control.sock" : $"/tmp/shardruntime-{uid}/control.sock";
    }
}
