using System.Diagnostics;

namespace ShardRuntime.EndToEnd.Tests.Support;

/// <summary>Runs <c>dotnet shardruntime.dll &lt;args&gt;</c> (the host's build output next to the tests) as a child process.</summary>
internal static class HostCli
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The host's entry assembly, copied next to the tests by the project reference.</summary>
    public static string HostDll { get; } = FindHost();

    /// <summary>
    /// <c>dotnet shardruntime.dll &lt;args&gt;</c>; with a <paramref name="launcher"/> (a program and its arguments that
    /// runs the command given after them, e.g. <c>systemd-socket-activate -l ...</c>), that program runs the same command.
    /// </summary>
    public static ProcessStartInfo StartInfo(IEnumerable<string> args, string? workingDirectory = null, IReadOnlyList<string>? launcher = null)
    {
        string[] command = [.. launcher ?? [], "dotnet", HostDll, .. args];
        var info = ToolProcess.StartInfo(command[0], command[1..]);
        info.WorkingDirectory = workingDirectory ?? Path.GetTempPath();
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        return info;
    }

    /// <summary>Runs the tool to completion; kills it (by its own PID) and throws when it outlives <paramref name="timeout"/>.</summary>
    public static Task<CliResult> RunAsync(IEnumerable<string> args, TimeSpan? timeout = null) =>
        ToolProcess.RunAsync(StartInfo(args), timeout ?? DefaultTimeout);

    private static string FindHost()
    {
        var next = Path.Combine(AppContext.BaseDirectory, "shardruntime.dll");
        if (File.Exists(next) && File.Exists(Path.Combine(AppContext.BaseDirectory, "shardruntime.runtimeconfig.json")))
            return next;
        throw new FileNotFoundException(
            $"shardruntime.dll and shardruntime.runtimeconfig.json must be next to the tests in {AppContext.BaseDirectory} " +
            "(the project reference to src/Host copies them)");
    }
}
