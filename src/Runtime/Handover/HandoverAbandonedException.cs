namespace ShardRuntime.Runtime.Handover;

/// <summary>
/// The old process did not release its sockets and serves on (it abandoned the handover: a timeout, an abort, or it
/// never answered Ready while it still runs). A successor that sees this must stop accepting and leave the sockets to it.
/// </summary>
public sealed class HandoverAbandonedException : HandoverException
{
    public HandoverAbandonedException(string message)
        : base(message)
    {
    }
}
