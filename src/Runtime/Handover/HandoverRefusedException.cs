namespace ShardRuntime.Runtime.Handover;

/// <summary>The process owning the sockets refused to hand them over (another user, a handover already running, ...).</summary>
public sealed class HandoverRefusedException : HandoverException
{
    public HandoverRefusedException(string reason)
        : base($"The handover was refused: {reason}")
    {
        Reason = reason;
    }

    /// <summary>The reason the serving process gave.</summary>
    public string Reason { get; }
}
