using System.Net.Sockets;

namespace ShardRuntime.Runtime.Sockets;

/// <summary>
/// The process on the other end of a connected Unix domain socket, as the kernel recorded it when the connection was
/// made (SO_PEERCRED, struct ucred). The control and upgrade sockets check it before doing anything.
/// </summary>
/// <param name="ProcessId">The peer's pid (in our pid namespace; 0 if the peer is in a namespace we cannot see).</param>
/// <param name="UserId">The peer's effective uid at connect() time.</param>
/// <param name="GroupId">The peer's effective gid at connect() time.</param>
public readonly record struct PeerCredentials(int ProcessId, uint UserId, uint GroupId)
{
    /// <summary>Reads SO_PEERCRED from a connected (or accepted) Unix domain stream socket.</summary>
    /// <exception cref="ArgumentException">The socket is not a Unix domain socket; other families have no peer credentials.</exception>
    public static PeerCredentials Of(Socket unixDomainSocket)
    {
        ArgumentNullException.ThrowIfNull(unixDomainSocket);
        if (unixDomainSocket.AddressFamily != AddressFamily.Unix)
        {
            throw new ArgumentException(
                $"SO_PEERCRED needs a Unix domain socket, this one is {unixDomainSocket.AddressFamily}.", nameof(unixDomainSocket));
        }

        // struct ucred { pid_t pid; uid_t uid; gid_t gid; } : three 32-bit fields in host byte order.
        Span<byte> ucred = stackalloc byte[12];
        int length = unixDomainSocket.GetRawSocketOption(SocketOptionsNative.SolSocket, SocketOptionsNative.SoPeerCred, ucred);
        if (length != ucred.Length)
        {
            throw new InvalidOperationException($"getsockopt(SO_PEERCRED) returned {length} bytes, expected {ucred.Length}.");
        }

        return new PeerCredentials(
            BitConverter.ToInt32(ucred[..4]),
            BitConverter.ToUInt32(ucred[4..8]),
            BitConverter.ToUInt32(ucred[8..12]));
    }
}
