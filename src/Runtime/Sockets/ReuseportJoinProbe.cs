using System.Net;
using System.Net.Sockets;

namespace ShardRuntime.Runtime.Sockets;

/// <summary>
/// Whether a listener bound now would join the sockets already listening on an endpoint: a socket with the options
/// <see cref="ReuseportSocketFactory"/> sets is bound there and closed at once, never listening (a bound TCP socket that
/// does not listen is in no reuseport group and is given no connection). The kernel lets it bind only where every socket
/// on the endpoint has SO_REUSEPORT and this effective uid, exactly where a real listener would silently share the
/// traffic; anywhere else bind fails (EADDRINUSE), as the real bind would, with its own diagnosis.
/// </summary>
public static class ReuseportJoinProbe
{
    /// <summary>True when a listener on <paramref name="endPoint"/> would join the reuseport group there.</summary>
    public static bool WouldJoin(IPEndPoint endPoint, TransportProtocol protocol)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        using var socket = protocol == TransportProtocol.Tcp
            ? new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
            : new Socket(endPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        if (endPoint.AddressFamily == AddressFamily.InterNetworkV6) socket.DualMode = false;
        if (protocol == TransportProtocol.Tcp) SocketOptionsNative.SetReuseAddress(socket);
        SocketOptionsNative.SetReusePort(socket);
        try
        {
            socket.Bind(endPoint);
            return true;
        }
        catch (SocketException)
        {
            return false; // EADDRINUSE (not joinable), EACCES, EADDRNOTAVAIL: the real bind says why
        }
    }
}
