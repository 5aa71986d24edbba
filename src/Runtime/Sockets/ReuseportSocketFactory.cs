using System.Net.Sockets;

namespace ShardRuntime.Runtime.Sockets;

/// <summary>
/// Binds listener shards the way nginx's <c>reuseport</c> does, so several sockets (of this effective user) share
/// one port and the kernel spreads connections and UDP flows across them:
/// <list type="bullet">
/// <item>SO_REUSEPORT is set by its raw number; .NET's <see cref="SocketOptionName.ReuseAddress"/> is never used,
/// because on Linux it turns on SO_REUSEPORT as well, silently.</item>
/// <item>TCP sockets also get the raw SO_REUSEADDR, as nginx sets it: it only allows binding over TIME_WAIT remnants;
/// Linux never lets two TCP listeners share a port through it. UDP sockets do not get it: on UDP it would let
/// a socket of any user that sets SO_REUSEADDR bind the same port and take datagrams.</item>
/// <item>IPv6 endpoints get IPv6-only sockets (IPV6_V6ONLY = 1, nginx's <c>ipv6only=on</c> default), so
/// <c>[::]:p</c> never also catches IPv4 and the behaviour does not depend on <c>net.ipv6.bindv6only</c>.</item>
/// <item>TCP sockets are bound and put into listen(backlog); UDP sockets are only bound.</item>
/// </list>
/// A refusal disposes the socket and throws <see cref="ListenerBindException"/>.
/// </summary>
public sealed class ReuseportSocketFactory : IListenerSocketFactory
{
    private ReuseportSocketFactory()
    {
    }

    /// <summary>The factory; it has no state.</summary>
    public static ReuseportSocketFactory Instance { get; } = new();

    /// <inheritdoc />
    public Socket Bind(ListenerSocketOptions options) => Open(options, listen: true);

    /// <summary>
    /// A socket of <paramref name="options"/>, bound with the options above, and listening when <paramref name="listen"/>
    /// (TCP). Not listening, a TCP socket takes part in the kernel's bind checks but joins no reuseport group, so no
    /// connection of the group can land in it (<see cref="EndpointProbe"/>).
    /// </summary>
    internal static Socket Open(ListenerSocketOptions options, bool listen)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(options.EndPoint, nameof(options.EndPoint));
        var family = options.EndPoint.AddressFamily;
        if (family is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
        {
            throw new ArgumentException($"Listener endpoint {options.EndPoint} is neither IPv4 nor IPv6.", nameof(options));
        }

        if (!Enum.IsDefined(options.Protocol))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Protocol, "Unknown transport protocol.");
        }

        bool tcp = options.Protocol == TransportProtocol.Tcp;
        if (tcp && options.Backlog <= 0)
        {
            throw new ArgumentOutOfRangeException(
                nameof(options), options.Backlog, $"The listen backlog of {options} must be positive.");
        }

        var socket = tcp
            ? new Socket(family, SocketType.Stream, ProtocolType.Tcp)
            : new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (family == AddressFamily.InterNetworkV6)
            {
                socket.DualMode = false;
            }

            if (tcp)
            {
                SocketOptionsNative.SetReuseAddress(socket);
            }

            SocketOptionsNative.SetReusePort(socket);
            socket.Bind(options.EndPoint);
            if (tcp && listen)
            {
                socket.Listen(options.Backlog);
            }

            return socket;
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw BindFailureDiagnosis.Diagnose(options.EndPoint, options.Protocol, ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
