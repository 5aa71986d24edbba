namespace ShardRuntime.Runtime.Handover;

/// <summary>The other end of a handover closed or reset the connection (it exited or was killed).</summary>
public sealed class HandoverPeerGoneException : HandoverException
{
    public HandoverPeerGoneException(string message)
        : base(message)
    {
    }

    public HandoverPeerGoneException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
