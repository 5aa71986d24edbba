namespace ShardRuntime.LoadGen.Cli;

/// <summary>Exit codes of the load generator.</summary>
public static class ExitCodes
{
    /// <summary>The run happened (even if attempts failed, unless --fail-on-errors).</summary>
    public const int Ran = 0;

    /// <summary>--fail-on-errors was given and at least one attempt did not succeed.</summary>
    public const int AttemptsFailed = 1;

    /// <summary>Malformed command line or unusable options (for example a target that is not loopback).</summary>
    public const int Usage = 2;
}
