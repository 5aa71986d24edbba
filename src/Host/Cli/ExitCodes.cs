namespace ShardRuntime.Host.Cli;

/// <summary>Exit codes of the command-line tool, stable for scripts.</summary>
public static class ExitCodes
{
    /// <summary>The command was carried out.</summary>
    public const int Success = 0;

    /// <summary>The node refused the command or could not carry it out; its reason is on stderr.</summary>
    public const int Refused = 1;

    /// <summary>The command line is wrong (unknown command, missing or malformed argument).</summary>
    public const int Usage = 2;

    /// <summary>The configuration is unusable (<c>run</c> stops before it starts anything; <c>check</c> lists every problem).</summary>
    public const int ConfigInvalid = 2;

    /// <summary>No node answers on the control socket (no socket, connection refused, no answer in time).</summary>
    public const int Unreachable = 3;
}
