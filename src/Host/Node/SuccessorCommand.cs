using System.Diagnostics;
using ShardRuntime.Runtime.Upgrade;

namespace ShardRuntime.Host.Node;

/// <summary>
/// Starts a node's successor for an upgrade the way nginx re-executes itself: the same program as this process was
/// started with (so the binaries on disk now), <c>run</c> with this node's options, plus <c>--upgrade-from</c> and the
/// upgrade socket. It inherits the working directory, the environment (NOTIFY_SOCKET included) and stdout/stderr, so
/// its logs go where this node's go, and it is this node's child until this node exits.
/// </summary>
internal static class SuccessorCommand
{
    /// <param name="launch">How this node was started.</param>
    /// <param name="upgradeSocket">This node's upgrade socket.</param>
    /// <param name="clusterAddress">This node's cluster address: the successor joins through it (<see cref="NodeEnvironment.Predecessor"/>).</param>
    public static ProcessStartInfo For(NodeLaunch launch, string upgradeSocket, string? clusterAddress = null)
    {
        // The program part of this process's command line, without Main's arguments: e.g. [/usr/share/dotnet/dotnet, /opt/shardruntime.dll].
        var invocation = OwnCommandLine.Read(dropLast: launch.ArgumentCount);
        var info = new ProcessStartInfo(invocation[0])
        {
            UseShellExecute = false,
            WorkingDirectory = Environment.CurrentDirectory,
        };
        foreach (var argument in invocation.Skip(1)) info.ArgumentList.Add(argument);
        info.ArgumentList.Add("run");
        if (launch.ConfigFile is not null)
        {
            info.ArgumentList.Add("--config");
            info.ArgumentList.Add(launch.ConfigFile.FullName);
        }
        if (!string.IsNullOrEmpty(launch.ControlSocket))
        {
            info.ArgumentList.Add("--control-socket");
            info.ArgumentList.Add(Path.GetFullPath(launch.ControlSocket));
        }
        info.ArgumentList.Add("--log-format");
        info.ArgumentList.Add(launch.LogFormat);
        info.ArgumentList.Add("--upgrade-from");
        info.ArgumentList.Add(upgradeSocket);
        if (clusterAddress is not null) info.Environment[NodeEnvironment.Predecessor] = clusterAddress;
        return info;
    }

    public static Process Start(NodeLaunch launch, string upgradeSocket, string? clusterAddress) =>
        Process.Start(For(launch, upgradeSocket, clusterAddress)) ?? throw new InvalidOperationException("the successor process did not start");
}
