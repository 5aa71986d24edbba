using System.Globalization;
using System.Runtime.InteropServices;

namespace ShardRuntime.Runtime.Sockets.Udp;

/// <summary>
/// A datagram system call (<c>recvmmsg</c>, <c>sendmmsg</c>, ...) failed for a reason that concerns the socket, not one
/// datagram: the socket was closed (EBADF), is no socket (ENOTSOCK), ... The message names the call and the errno.
/// </summary>
public sealed class DatagramIoException : IOException
{
    /// <summary>Creates the exception for <paramref name="call"/> failing with <paramref name="errno"/> on <paramref name="fd"/>.</summary>
    public DatagramIoException(string call, int errno, int fd)
        : base($"{call} on descriptor {fd.ToString(CultureInfo.InvariantCulture)} failed with {Name(errno)}: {Marshal.GetPInvokeErrorMessage(errno)}.")
    {
        Call = call;
        Errno = errno;
        ErrnoName = Name(errno);
    }

    /// <summary>The system call that failed.</summary>
    public string Call { get; }

    /// <summary>The Linux errno.</summary>
    public int Errno { get; }

    /// <summary>The errno's symbolic name (EBADF, ...), or "errno n".</summary>
    public string ErrnoName { get; }

    /// <summary>The symbolic name of a Linux errno a datagram call can return.</summary>
    internal static string Name(int errno) => errno switch
    {
        1 => "EPERM",
        4 => "EINTR",
        9 => "EBADF",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        14 => "EFAULT",
        22 => "EINVAL",
        88 => "ENOTSOCK",
        89 => "EDESTADDRREQ",
        90 => "EMSGSIZE",
        95 => "EOPNOTSUPP",
        97 => "EAFNOSUPPORT",
        101 => "ENETUNREACH",
        105 => "ENOBUFS",
        107 => "ENOTCONN",
        111 => "ECONNREFUSED",
        113 => "EHOSTUNREACH",
        _ => "errno " + errno.ToString(CultureInfo.InvariantCulture),
    };
}
