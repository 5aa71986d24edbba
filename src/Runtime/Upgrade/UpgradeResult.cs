namespace ShardRuntime.Runtime.Upgrade;

/// <summary>How one upgrade to a successor ended, seen from the process that owned the sockets.</summary>
public enum UpgradeResult
{
    /// <summary>Every socket was passed and the successor said it is ready: this process may stop accepting and drain.</summary>
    Completed,

    /// <summary>The peer was not allowed (another user): nothing was passed.</summary>
    Refused,

    /// <summary>Something failed before the successor was ready: this process keeps serving on its sockets.</summary>
    RolledBack,
}
