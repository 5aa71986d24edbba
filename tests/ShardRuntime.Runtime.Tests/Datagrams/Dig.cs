using System.Diagnostics;

namespace ShardRuntime.Runtime.Tests.Datagrams;

/// <summary>Runs ISC's <c>dig</c> (bind9-dnsutils), a client no one here wrote, against a server on 127.0.0.1.</summary>
internal static class Dig
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    /// <summary>Why the dig tests cannot run here, or null when they can.</summary>
    public static string? Missing { get; } = Find() is null ? "dig is not installed (apt-get install bind9-dnsutils)" : null;

    /// <summary>
    /// Asks <paramref name="port"/> on 127.0.0.1 with <paramref name="arguments"/> (name, type, options) and returns
    /// dig's output. One try with a generous timeout, so a loaded machine does not make dig retry.
    /// </summary>
    public static async Task<string> AskAsync(int port, params string[] arguments)
    {
        var start = new ProcessStartInfo(Find()!) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in (string[])["@127.0.0.1", "-p", port.ToString(), "+tries=1", "+time=10", .. arguments])
            start.ArgumentList.Add(argument);

        using var dig = Process.Start(start)!;
        try
        {
            var output = dig.StandardOutput.ReadToEndAsync();
            var error = dig.StandardError.ReadToEndAsync();
            await dig.WaitForExitAsync().WaitAsync(Deadline);
            Assert.True(dig.ExitCode == 0, $"dig {string.Join(' ', start.ArgumentList)} exited with {dig.ExitCode}: {await output}{await error}");
            return await output;
        }
        finally
        {
            if (!dig.HasExited)
                dig.Kill(); // this dig's PID only
        }
    }

    private static string? Find() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, "dig"))
            .FirstOrDefault(File.Exists);
}
