using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests.Support;

/// <summary>
/// Runs tests/Fixtures/RemotingProbe (copied to fixtures/remoting-probe next to the tests): another process with its
/// own ActorSystem that sends a node's coordinator <c>ScaleTo</c> over remoting, as root or (through runuser, from a
/// world-readable copy) as user nobody. Exit 0: the node answered; 3: no answer.
/// </summary>
internal static class RemotingProbe
{
    public const int Replied = 0;
    public const int NoReply = 3;

    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "fixtures", "remoting-probe");

    /// <summary>Why the probe cannot run as user nobody here, or null when it can.</summary>
    public static string? WhyNotAsNobody() =>
        !Posix.IsRoot ? "needs root to run a process as user nobody (runuser)"
        : !File.Exists("/usr/sbin/runuser") && !File.Exists("/sbin/runuser") ? "runuser (util-linux) is not installed"
        : null;

    /// <summary>Runs the probe against <paramref name="target"/> (a node address); <paramref name="tls"/>: its certificate and key files.</summary>
    public static async Task<CliResult> RunAsync(
        ITestOutputHelper output, string target, string listener, int shards, bool asNobody, (string Certificate, string Key)? tls = null)
    {
        var copy = asNobody ? ReadableCopy() : null;
        try
        {
            var dll = Path.Combine(copy ?? Folder, "RemotingProbe.dll");
            List<string> command = ["dotnet", dll, target, listener, shards.ToString(System.Globalization.CultureInfo.InvariantCulture), "--timeout", "8"];
            if (tls is { } files)
            {
                if (asNobody)
                {
                    foreach (var file in new[] { files.Certificate, files.Key })
                        File.Copy(file, Path.Combine(copy!, Path.GetFileName(file)), overwrite: true);
                    files = (Path.Combine(copy!, Path.GetFileName(files.Certificate)), Path.Combine(copy!, Path.GetFileName(files.Key)));
                    MakeReadable(copy!);
                }
                command.AddRange(["--tls", files.Certificate, files.Key]);
            }
            if (asNobody)
                command = [File.Exists("/usr/sbin/runuser") ? "/usr/sbin/runuser" : "/sbin/runuser", "-u", "nobody", "--", .. command];
            var info = ToolProcess.StartInfo(command[0], command[1..]);
            info.WorkingDirectory = copy ?? Path.GetTempPath();
            info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
            info.Environment["DOTNET_NOLOGO"] = "1";
            if (asNobody) info.Environment["HOME"] = copy!;
            var result = await ToolProcess.RunAsync(info, TimeSpan.FromSeconds(60));
            output.WriteLine($"probe ({(asNobody ? "nobody" : "root")}) -> {target}: exit {result.ExitCode}\n{result.StdOut}{result.StdErr}");
            return result;
        }
        finally
        {
            if (copy is not null)
            {
                try { Directory.Delete(copy, recursive: true); }
                catch (IOException) { }
            }
        }
    }

    /// <summary>The probe's files in a fresh temp directory that user nobody can read (the build output may be under /root).</summary>
    private static string ReadableCopy()
    {
        var copy = Directory.CreateTempSubdirectory("shardruntime-probe-").FullName;
        foreach (var file in Directory.EnumerateFiles(Folder, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(copy, Path.GetRelativePath(Folder, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        MakeReadable(copy);
        return copy;
    }

    private static void MakeReadable(string directory)
    {
        const UnixFileMode all = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                                 UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        File.SetUnixFileMode(directory, all);
        foreach (var entry in Directory.EnumerateFileSystemEntries(directory, "*", SearchOption.AllDirectories))
            File.SetUnixFileMode(entry, Directory.Exists(entry) ? all : all & ~UnixFileMode.UserExecute & ~UnixFileMode.GroupExecute & ~UnixFileMode.OtherExecute | UnixFileMode.UserRead);
    }
}
