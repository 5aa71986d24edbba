namespace ShardRuntime.Runtime.Upgrade;

/// <summary>The other end of an upgrade closed or reset the connection (it exited or was killed).</summary>
public sealed class UpgradePeerGoneException : UpgradeException
{
    /// <summary>The other process went away, as <paramref name="message"/> says.</summary>
    public UpgradePeerGoneException(string message)
        : base(message)
    {
    }

    /// <summary>The other process went away, as <paramref name="message"/> says, seen as <paramref name="innerException"/>.</summary>
    public UpgradePeerGoneException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
