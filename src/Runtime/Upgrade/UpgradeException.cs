namespace ShardRuntime.Runtime.Upgrade;

/// <summary>
/// A socket upgrade failed: the peer broke the protocol, went away, timed out, or a received socket did not match
/// its label. The message says which. The process that owned the sockets keeps them.
/// </summary>
public class UpgradeException : Exception
{
    public UpgradeException(string message)
        : base(message)
    {
    }

    public UpgradeException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
