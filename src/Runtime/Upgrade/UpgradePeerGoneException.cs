namespace ShardRuntime.Runtime.Upgrade;

/// <summary>The other end of an upgrade closed or reset the connection (it exited or was killed).</summary>
public sealed class UpgradePeerGoneException : UpgradeException
{
    public UpgradePeerGoneException(string message)
        : base(message)
    {
    }

    public UpgradePeerGoneException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
