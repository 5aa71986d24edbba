using System.Diagnostics;

namespace ShardRuntime.EndToEnd.Tests.Support;

/// <summary>Runs a program to completion with its output captured, bounded in time.</summary>
internal static class ToolProcess
{
    /// <summary>
    /// Starts <paramref name="info"/> (its output and error must be redirected), closes its input if redirected, and
    /// waits for it; kills it (by its own PID, with its children) and throws when it outlives <paramref name="timeout"/>.
    /// </summary>
    public static async Task<CliResult> RunAsync(ProcessStartInfo info, TimeSpan timeout)
    {
        using var process = Process.Start(info)
            ?? throw new InvalidOperationException($"{info.FileName} did not start");
        if (info.RedirectStandardInput)
            process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            throw new TimeoutException(
                $"'{info.FileName} {string.Join(' ', info.ArgumentList)}' did not finish within {timeout.TotalSeconds}s\n" +
                $"--- stdout ---\n{await stdout}\n--- stderr ---\n{await stderr}");
        }
        return new CliResult(process.ExitCode, await stdout, await stderr);
    }

    /// <summary><paramref name="program"/> with <paramref name="args"/>, every stream redirected, not through a shell.</summary>
    public static ProcessStartInfo StartInfo(string program, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        return info;
    }
}
