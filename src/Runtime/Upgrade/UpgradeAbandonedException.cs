namespace ShardRuntime.Runtime.Upgrade;

/// <summary>
/// The old process did not release its sockets and serves on (it abandoned the upgrade: a timeout, an abort, or it
/// never answered Ready while it still runs). A successor that sees this must stop accepting and leave the sockets to it.
/// </summary>
public sealed class UpgradeAbandonedException : UpgradeException
{
    /// <summary>The upgrade was abandoned, for the reason <paramref name="message"/>.</summary>
    public UpgradeAbandonedException(string message)
        : base(message)
    {
    }
}
