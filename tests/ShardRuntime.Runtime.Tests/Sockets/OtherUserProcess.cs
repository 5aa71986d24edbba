using System.Diagnostics;
using ShardRuntime.Runtime.Sockets;

namespace ShardRuntime.Runtime.Tests.Sockets;

/// <summary>
/// A python3 child running as user <c>nobody</c> (through runuser), for tests that need a socket of another user.
/// It prints one line when ready and runs until its stdin closes. Needs root; tests skip with the reason otherwise.
/// </summary>
internal sealed class OtherUserProcess : IDisposable
{
    public const string UserName = "nobody";
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(5);

    private readonly Process _process;

    private OtherUserProcess(Process process, string readyLine)
    {
        _process = process;
        ReadyLine = readyLine;
    }

    /// <summary>The first line the child printed.</summary>
    public string ReadyLine { get; }

    /// <summary>Why such a child cannot be started here, or null when it can.</summary>
    public static string? WhyUnavailable()
    {
        if (ProcessIdentity.EffectiveUserId != 0)
        {
            return $"needs root to start a process as '{UserName}' (running as uid {ProcessIdentity.EffectiveUserId})";
        }

        if (!File.Exists("/usr/sbin/runuser") && !File.Exists("/sbin/runuser"))
        {
            return "runuser (util-linux) is not installed";
        }

        if (FindPython() is null)
        {
            return "python3 is not installed";
        }

        return ProcessIdentity.GetUserName(65534) is null ? "user nobody (65534) is missing from /etc/passwd" : null;
    }

    /// <summary>Starts <c>python3 -c script args...</c> as nobody and waits (bounded) for its first line.</summary>
    public static async Task<OtherUserProcess> StartAsync(string script, params string[] args)
    {
        var info = new ProcessStartInfo(File.Exists("/usr/sbin/runuser") ? "/usr/sbin/runuser" : "/sbin/runuser")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { "-u", UserName, "--", FindPython()!, "-c", script }.Concat(args))
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("runuser did not start");
        try
        {
            string? line = await process.StandardOutput.ReadLineAsync().WaitAsync(ReadyTimeout);
            if (line is null)
            {
                throw new InvalidOperationException(
                    $"child exited before it was ready: {await process.StandardError.ReadToEndAsync().WaitAsync(ReadyTimeout)}");
            }

            return new OtherUserProcess(process, line);
        }
        catch
        {
            Stop(process);
            throw;
        }
    }

    public void Dispose() => Stop(_process);

    private static void Stop(Process process)
    {
        // Closing stdin lets the child end by itself; if it does not, end it (and runuser's child) by pid.
        try
        {
            process.StandardInput.Close();
        }
        catch (IOException)
        {
        }

        if (!process.WaitForExit(ExitTimeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(ExitTimeout);
        }

        process.Dispose();
    }

    // The python of a user's pyenv under /root is not reachable for nobody: prefer the system one.
    private static string? FindPython() =>
        new[] { "/usr/bin/python3", "/usr/local/bin/python3" }.FirstOrDefault(File.Exists);
}
