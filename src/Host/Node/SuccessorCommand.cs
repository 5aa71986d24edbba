using System.Diagnostics;

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
        var invocation = Invocation(launch.ArgumentCount);
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

    /// <summary>
    /// The program part of this process's command line: /proc/self/cmdline without Main's arguments, its first word made
    /// absolute (<c>dotnet</c> becomes the running host's path), e.g. <c>[/usr/share/dotnet/dotnet, shardruntime.dll]</c>.
    /// </summary>
    private static List<string> Invocation(int argumentCount)
    {
        var words = File.ReadAllText("/proc/self/cmdline").Split('\0').ToList();
        if (words.Count > 0 && words[^1].Length == 0) words.RemoveAt(words.Count - 1);
        var program = words.Take(Math.Max(1, words.Count - argumentCount)).ToList();
        program[0] = Environment.ProcessPath ?? program[0];
        for (var i = 1; i < program.Count; i++)
        {
            // The assembly a `dotnet` host runs: absolute, in case the successor's working directory differs.
            if (!program[i].StartsWith('-') && File.Exists(program[i])) program[i] = Path.GetFullPath(program[i]);
        }
        return program;
    }
}
