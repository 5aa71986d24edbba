using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace ShardRuntime.EndToEnd.Tests.Support;

/// <summary>The kernel's view of listening TCP sockets, read with <c>ss -ltneH</c>.</summary>
internal static partial class KernelSockets
{
    /// <summary>Inodes of the TCP sockets listening on exactly <paramref name="endPoint"/>.</summary>
    public static async Task<IReadOnlyList<long>> ListeningInodesAsync(IPEndPoint endPoint)
    {
        var info = new ProcessStartInfo("ss")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "-ltneH", $"sport = :{endPoint.Port}" })
            info.ArgumentList.Add(arg);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("ss did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await process.WaitForExitAsync(cts.Token);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"ss exited {process.ExitCode}: {await stderr}");

        var inodes = new List<long>();
        foreach (var line in (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // LISTEN 0 511 127.0.0.1:33321 0.0.0.0:* ino:100645 sk:1081 cgroup:/ <->
            var columns = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (columns.Length < 4 || columns[3] != endPoint.ToString())
                continue; // same port on another address
            var inode = InodePattern().Match(line);
            if (!inode.Success)
                throw new InvalidDataException($"ss line without ino: '{line}'");
            inodes.Add(long.Parse(inode.Groups[1].Value, CultureInfo.InvariantCulture));
        }
        return inodes;
    }

    /// <summary>The local endpoints of every TCP socket in LISTEN that process <paramref name="pid"/> holds (<c>ss -ltnpH</c>).</summary>
    public static async Task<IReadOnlyList<string>> ListeningEndPointsOfAsync(int pid)
    {
        var result = await ToolProcess.RunAsync(ToolProcess.StartInfo("ss", ["-ltnpH"]), TimeSpan.FromSeconds(10));
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"ss exited {result.ExitCode}: {result.StdErr}");
        // LISTEN 0 511 127.0.0.1:8080 0.0.0.0:* users:(("shardruntime",pid=123,fd=229))
        return result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(line => line.Contains($"pid={pid},", StringComparison.Ordinal))
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3])
            .Distinct()
            .ToList();
    }

    /// <summary>Polls until the kernel shows <paramref name="count"/> listening sockets on the endpoint; returns their inodes.</summary>
    public static async Task<IReadOnlyList<long>> WaitForListeningCountAsync(IPEndPoint endPoint, int count, TimeSpan timeout)
    {
        var inodes = await Eventually.ValueAsync(() => ListeningInodesAsync(endPoint), i => i.Count == count, timeout, TimeSpan.FromMilliseconds(50));
        if (inodes.Count != count)
            throw new TimeoutException(
                $"the kernel shows {inodes.Count} listening socket(s) on {endPoint}, expected {count} within {timeout.TotalSeconds}s");
        return inodes;
    }

    [GeneratedRegex(@"\bino:(\d+)")]
    private static partial Regex InodePattern();
}
