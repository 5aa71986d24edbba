namespace ShardRuntime.Runtime.Upgrade;

/// <summary>
/// A socket upgrade failed: the peer broke the protocol, went away, timed out, or a received socket did not match
/// its label. The message says which. The process that owned the sockets keeps them.
/// </summary>
public class UpgradeException : Exception
{
    /// <summary>The upgrade failed, for the reason <paramref name="message"/>.</summary>
    public UpgradeException(string message)
        : base(message)
    {
    }

    /// <summary>The upgrade failed, for the reason <paramref name="message"/>, because of <paramref name="innerException"/>.</summary>
    public UpgradeException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
