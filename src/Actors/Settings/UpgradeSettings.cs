using Akka.Configuration;

namespace ShardRuntime.Actors.Settings;

/// <summary>
/// Process upgrades (<c>shard-runtime.upgrade</c>): the handoff socket through which a successor process receives this
/// node's listening sockets, and the bounds on each step of the conversation.
/// </summary>
/// <param name="Enabled">Whether the node serves the handoff socket at all.</param>
/// <param name="SocketPath">The handoff socket (a Unix domain socket, mode 0600).</param>
/// <param name="BatchSize">Sockets per message (SCM_RIGHTS).</param>
/// <param name="StepTimeout">The longest wait for each frame of the conversation.</param>
/// <param name="Timeout">From starting the successor (or its first frame) to its Ready; past it the node rolls back.</param>
/// <param name="CheckInterval">How often the handoff socket's file is checked to be still this node's (<c>shard-runtime.control.check-interval</c>).</param>
public sealed record UpgradeSettings(bool Enabled, string SocketPath, int BatchSize, TimeSpan StepTimeout, TimeSpan Timeout, TimeSpan CheckInterval)
{
    public static UpgradeSettings Create(Config upgrade, string path, ControlSettings control)
    {
        var r = new ConfigReader(upgrade, path);
        var socketPath = r.GetString("socket-path", allowEmpty: true);
        return new UpgradeSettings(
            Enabled: r.GetBool("enabled"),
            SocketPath: socketPath.Length == 0 ? DefaultSocketPath(control.SocketPath) : socketPath,
            BatchSize: r.GetInt("batch-size", 1, Runtime.Handover.UnixFdPassing.MaxDescriptorsPerMessage),
            StepTimeout: r.GetDuration("step-timeout", TimeSpan.FromMilliseconds(1)),
            Timeout: r.GetDuration("timeout", TimeSpan.FromMilliseconds(1)),
            CheckInterval: control.CheckInterval);
    }

    /// <summary>The longest an <c>upgrade</c> request waits for its answer: the timeout, then Ready's answer and a margin.</summary>
    public TimeSpan AnswerTimeout => Timeout + StepTimeout + StepTimeout;

    /// <summary>Next to the control socket: <c>control.sock</c> gives <c>control-handoff.sock</c> in the same directory.</summary>
    public static string DefaultSocketPath(string controlSocketPath) =>
        Path.Combine(Path.GetDirectoryName(controlSocketPath) ?? ".", Path.GetFileNameWithoutExtension(controlSocketPath) + "-handoff.sock");
}
