namespace ShardRuntime.Runtime.Upgrade;

/// <summary>The process owning the sockets refused to hand them over (another user, an upgrade already running, ...).</summary>
public sealed class UpgradeRefusedException : UpgradeException
{
    /// <summary>The other process refused the upgrade, for the reason <paramref name="reason"/>.</summary>
    public UpgradeRefusedException(string reason)
        : base($"The upgrade was refused: {reason}")
    {
        Reason = reason;
    }

    /// <summary>The reason the serving process gave.</summary>
    public string Reason { get; }
}
