using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests.Support;

/// <summary>
/// Debian's <c>docker-compose</c> (package docker-compose; 1.29 on Debian 12): it validates and normalises a compose
/// file without a Docker engine. Installed with apt-get when the tests run as root (as CI does) and it is missing.
/// </summary>
internal static class ComposeTool
{
    public const string Program = "/usr/bin/docker-compose";
    private const string Package = "docker-compose";

    private static readonly TimeSpan AptTimeout = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(1);
    private static readonly SemaphoreSlim Installing = new(1, 1);

    /// <summary>
    /// Makes sure <see cref="Program"/> is there: installs the package when root (once <c>apt-get install</c> finds no
    /// package, after <c>apt-get update</c>), skips the calling spec with the reason when not root.
    /// </summary>
    public static async Task EnsureInstalledAsync(ITestOutputHelper output)
    {
        if (File.Exists(Program))
            return;
        Skip.IfNot(Posix.IsRoot, $"needs {Program} (Debian package {Package}): apt-get install {Package}, or run the tests as root, which installs it");
        await Installing.WaitAsync();
        try
        {
            if (File.Exists(Program))
                return;
            output.WriteLine($"{Program} is missing: installing the Debian package {Package}");
            var install = await AptAsync(["install", "-y", "-q", "--no-install-recommends", Package]);
            if (install.ExitCode != 0)
            {
                // A machine whose package lists are missing or old: read them, then try once more.
                output.WriteLine($"apt-get install failed, reading the package lists first:\n{install}");
                var update = await AptAsync(["update", "-q"]);
                Assert.True(update.ExitCode == 0, $"apt-get update failed\n{update}");
                install = await AptAsync(["install", "-y", "-q", "--no-install-recommends", Package]);
            }
            Assert.True(install.ExitCode == 0 && File.Exists(Program), $"apt-get install {Package} did not install {Program}\n{install}");
        }
        finally
        {
            Installing.Release();
        }
    }

    /// <summary>Runs <c>docker-compose &lt;args&gt;</c> to completion (bounded; killed by its PID past the bound).</summary>
    public static Task<CliResult> RunAsync(params string[] args) =>
        ToolProcess.RunAsync(ToolProcess.StartInfo(Program, args), RunTimeout);

    private static Task<CliResult> AptAsync(string[] args)
    {
        // Waits for a lock another apt-get holds (bounded by apt itself, then by AptTimeout), never asks a question.
        var info = ToolProcess.StartInfo("apt-get", ["-o", "DPkg::Lock::Timeout=120", .. args]);
        info.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        return ToolProcess.RunAsync(info, AptTimeout);
    }
}
