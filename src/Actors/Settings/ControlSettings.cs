using Akka.Configuration;

namespace ShardRuntime.Actors.Settings;

/// <summary>The local control socket the command-line tool talks to (<c>shard-runtime.control</c>).</summary>
/// <param name="Enabled">Whether the node serves a control socket.</param>
/// <param name="SocketPath">The control socket's path.</param>
/// <param name="MaxRequestBytes">The largest request a client may send.</param>
/// <param name="RequestTimeout">How long a client may take to send its request, and a request to be answered.</param>
/// <param name="CheckInterval">How often the control and upgrade socket files are checked to be still this node's.</param>
public sealed record ControlSettings(bool Enabled, string SocketPath, int MaxRequestBytes, TimeSpan RequestTimeout, TimeSpan CheckInterval)
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

    /// <summary>Reads the block <paramref name="control"/>, found at <paramref name="path"/> (named in errors).</summary>
    public static ControlSettings Create(Config control, string path)
    {
        var r = new ConfigReader(control, path);
        var socketPath = r.GetString("socket-path", allowEmpty: true);
        return new ControlSettings(
            Enabled: r.GetBool("enabled"),
            SocketPath: socketPath.Length == 0 ? DefaultSocketPath() : socketPath,
            MaxRequestBytes: (int)r.GetBytes("max-request-bytes", 64, 16 * 1024 * 1024),
            RequestTimeout: r.GetDuration("request-timeout", TimeSpan.FromMilliseconds(1)),
            CheckInterval: r.GetDuration("check-interval", TimeSpan.FromMilliseconds(10)));
    }

    /// <summary>
    /// The host's control socket when no path is configured, where the command-line tool looks by default:
    /// control.sock in <see cref="DefaultDirectory"/>.
    /// </summary>
    public static string DefaultSocketPath() => Path.Combine(DefaultDirectory(), "control.sock");

    /// <summary>
    /// The runtime directory of the node's sockets: $XDG_RUNTIME_DIR/shardruntime, else /run/shardruntime for root and
    /// /tmp/shardruntime-&lt;uid&gt; for other users.
    /// </summary>
    public static string DefaultDirectory()
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        if (!string.IsNullOrEmpty(xdg))
            return Path.Combine(xdg, "shardruntime");
        var uid = Runtime.Sockets.ProcessIdentity.EffectiveUserId;
        return uid == 0 ? "/run/shardruntime" : $"/tmp/shardruntime-{uid}";
    }

    /// <summary>
    /// The control socket of an actor system of the user's own (<c>WithShardRuntime</c>) when no path is configured: one
    /// that no other node can have, <c>&lt;actor system&gt;.&lt;pid&gt;.&lt;instance&gt;.control.sock</c> in
    /// <paramref name="directory"/> (pids are unique among live processes, <paramref name="instance"/> among the actor
    /// systems of one process). The name is cut short to keep the path within a Unix socket address.
    /// </summary>
    public static string OwnSocketPath(string directory, string actorSystemName, int processId, int instance)
    {
        var name = actorSystemName.Length > 32 ? actorSystemName[..32] : actorSystemName;
        return Path.Combine(directory, $"{name}.{processId}.{instance}.control.sock");
    }
}
