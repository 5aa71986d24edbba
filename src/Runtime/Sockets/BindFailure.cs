namespace ShardRuntime.Runtime.Sockets;

/// <summary>Why the kernel refused to bind a listener, as told by the errno and the kernel's socket table.</summary>
public enum BindFailure
{
    /// <summary>
    /// EADDRINUSE, and a socket of another user holds the port: the kernel only lets sockets of the same
    /// effective user join a reuseport group, whatever options they set.
    /// </summary>
    PortHeldByOtherUser,

    /// <summary>EADDRINUSE, and a socket of this user holds the port without SO_REUSEPORT (typically another server).</summary>
    PortHeldWithoutReuseport,

    /// <summary>EADDRINUSE, and the kernel's table shows no socket on the port that explains it (another network namespace?).</summary>
    AddressInUse,

    /// <summary>EADDRNOTAVAIL: the address is not assigned to any interface of this host.</summary>
    AddressNotAvailable,

    /// <summary>EACCES: a privileged port (below <c>net.ipv4.ip_unprivileged_port_start</c>) without CAP_NET_BIND_SERVICE.</summary>
    PermissionDenied,

    /// <summary>Any other socket error; <see cref="ListenerBindException.SocketError"/> has it.</summary>
    Other,
}
