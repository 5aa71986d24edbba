namespace ShardRuntime.Runtime.Handover;

/// <summary>
/// A socket handover failed: the peer broke the protocol, went away, timed out, or a received socket did not match
/// its label. The message says which. The process that owned the sockets keeps them.
/// </summary>
public class HandoverException : Exception
{
    public HandoverException(string message)
        : base(message)
    {
    }

    public HandoverException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
