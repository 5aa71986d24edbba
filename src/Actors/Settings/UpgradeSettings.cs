using Akka.Configuration;

namespace ShardRuntime.Actors.Settings;

/// <summary>
/// Process upgrades (<c>shard-runtime.upgrade</c>): the upgrade socket through which a successor process receives this
/// node's listening sockets, and the bounds on each step of the conversation.
/// </summary>
/// <param name="Enabled">Whether the node serves the upgrade socket at all.</param>
/// <param name="SocketPath">The upgrade socket (a Unix domain socket, mode 0600).</param>
/// <param name="BatchSize">Sockets per message (SCM_RIGHTS).</param>
/// <param name="StepTimeout">The longest wait for each frame of the conversation.</param>
/// <param name="Timeout">From starting the successor (or its first frame) to its Ready; past it the node rolls back.</param>
/// <param name="StabilityPeriod">
/// After Released, how long the node keeps its copies of the listening sockets, not accepting, watching the successor;
/// a successor that dies within it makes the node accept on the same sockets again. Zero: it lets go at once.
/// </param>
/// <param name="RollbackGrace">How long a rolled-back successor has between SIGTERM and SIGKILL.</param>
/// <param name="LetGoMargin">
/// A successor's wait for its predecessor to let go of the sockets (close the upgrade connection): the hold the
/// predecessor announced (its stability period) plus this margin; past it the successor completes the upgrade anyway.
/// </param>
/// <param name="CheckInterval">How often the upgrade socket's file is checked to be still this node's (<c>shard-runtime.control.check-interval</c>).</param>
public sealed record UpgradeSettings(
    bool Enabled, string SocketPath, int BatchSize, TimeSpan StepTimeout, TimeSpan Timeout, TimeSpan StabilityPeriod, TimeSpan RollbackGrace,
    TimeSpan CheckInterval, TimeSpan LetGoMargin)
{
    /// <summary>Reads the block <paramref name="upgrade"/>, found at <paramref name="path"/> (named in errors); its socket sits next to <paramref name="control"/>'s unless set.</summary>
    public static UpgradeSettings Create(Config upgrade, string path, ControlSettings control)
    {
        var r = new ConfigReader(upgrade, path);
        var socketPath = r.GetString("socket-path", allowEmpty: true);
        return new UpgradeSettings(
            Enabled: r.GetBool("enabled"),
            SocketPath: socketPath.Length == 0 ? DefaultSocketPath(control.SocketPath) : socketPath,
            BatchSize: r.GetInt("batch-size", 1, Runtime.Upgrade.UnixFdPassing.MaxDescriptorsPerMessage),
            StepTimeout: r.GetDuration("step-timeout", TimeSpan.FromMilliseconds(1)),
            Timeout: r.GetDuration("timeout", TimeSpan.FromMilliseconds(1)),
            StabilityPeriod: r.GetDuration("stability-period", TimeSpan.Zero),
            RollbackGrace: r.GetDuration("rollback-grace", TimeSpan.FromMilliseconds(1)),
            CheckInterval: control.CheckInterval,
            LetGoMargin: r.GetDuration("let-go-margin", TimeSpan.Zero));
    }

    /// <summary>
    /// The longest an <c>upgrade</c> request waits for its answer: the timeout, ending a rolled-back successor, or the
    /// stability period after Ready's answer, and a margin.
    /// </summary>
    public TimeSpan AnswerTimeout => Timeout + StepTimeout + StepTimeout + StabilityPeriod + RollbackGrace + RollbackGrace;

    /// <summary>
    /// The longest a successor's part of an upgrade takes until it serves (the host waits this long for its outcome):
    /// its own coordinator settling within <see cref="Timeout"/>, Ready's answer and the claims of the control and
    /// upgrade sockets (a step each, with the registry's look-up), and a margin.
    /// </summary>
    public TimeSpan SuccessorAnswerTimeout => Timeout + StepTimeout * 6;

    /// <summary>Next to the control socket: <c>control.sock</c> gives <c>control-upgrade.sock</c> in the same directory.</summary>
    public static string DefaultSocketPath(string controlSocketPath) =>
        Path.Combine(Path.GetDirectoryName(controlSocketPath) ?? ".", Path.GetFileNameWithoutExtension(controlSocketPath) + "-upgrade.sock");
}
