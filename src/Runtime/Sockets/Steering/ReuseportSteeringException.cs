namespace ShardRuntime.Runtime.Sockets;

/// <summary>The kernel refused to attach or detach a reuseport steering program; the message names the errno and why.</summary>
public sealed class ReuseportSteeringException : IOException
{
    /// <summary>Creates the exception for a refused setsockopt.</summary>
    public ReuseportSteeringException(int errno, string errnoName, string message)
        : base(message)
    {
        Errno = errno;
        ErrnoName = errnoName;
    }

    /// <summary>The errno setsockopt failed with.</summary>
    public int Errno { get; }

    /// <summary>Its symbolic name (<c>EINVAL</c>, <c>ENOMEM</c>, ...).</summary>
    public string ErrnoName { get; }
}
