namespace ShardRuntime.EndToEnd.Tests.Support;

/// <summary>What one run of the command-line tool left behind.</summary>
internal sealed record CliResult(int ExitCode, string StdOut, string StdErr)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{StdOut}\n--- stderr ---\n{StdErr}";
}
