using ShardRuntime.EndToEnd.Tests.Support;

namespace ShardRuntime.EndToEnd.Tests.Packaging;

/// <summary>The dotnet CLI run from a test, bounded in time, as a user runs it (no MSBuild state of the test run).</summary>
internal static class Dotnet
{
    /// <summary>The dotnet executable the tests run under (what MSBuild and the test host say), else the one on PATH.</summary>
    public static string Executable { get; } =
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <summary>Runs <c>dotnet <paramref name="args"/></c> in <paramref name="workingDirectory"/>.</summary>
    public static Task<CliResult> RunAsync(string workingDirectory, TimeSpan timeout, params string[] args) =>
        RunProgramAsync(Executable, workingDirectory, timeout, args);

    /// <summary>
    /// Runs <paramref name="program"/> in <paramref name="workingDirectory"/> without the environment the test run's
    /// own build put there (MSBuild's variables would steer the child's build), and without telemetry or banners.
    /// </summary>
    public static Task<CliResult> RunProgramAsync(string program, string workingDirectory, TimeSpan timeout, params string[] args)
    {
        var info = ToolProcess.StartInfo(program, args);
        info.WorkingDirectory = workingDirectory;
        foreach (var name in info.Environment.Keys.ToList())
        {
            if (name.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || name.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase))
                info.Environment.Remove(name);
        }
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        // No MSBuild node or compiler server is left running after the command.
        info.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        info.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        info.Environment["UseSharedCompilation"] = "false";
        return ToolProcess.RunAsync(info, timeout);
    }
}
