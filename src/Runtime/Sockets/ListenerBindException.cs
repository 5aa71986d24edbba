using System.Net;
using System.Net.Sockets;

namespace ShardRuntime.Runtime.Sockets;

/// <summary>
/// The kernel refused to bind (or listen on) a listener's endpoint. <see cref="Failure"/> says why in terms an
/// operator can act on (for EADDRINUSE it is worked out from the kernel's socket table), the message says it in
/// words and names the endpoint and protocol, and the inner exception is the original <see cref="SocketException"/>.
/// </summary>
public sealed class ListenerBindException : Exception
{
    /// <summary>Creates the exception; <paramref name="message"/> should name the endpoint, protocol and cause.</summary>
    public ListenerBindException(
        IPEndPoint endPoint,
        TransportProtocol protocol,
        BindFailure failure,
        SocketError socketError,
        string message,
        KernelSocketEntry? holder = null,
        Exception? innerException = null)
        : base(message, innerException)
    {
        EndPoint = endPoint;
        Protocol = protocol;
        Failure = failure;
        SocketError = socketError;
        Holder = holder;
    }

    /// <summary>The endpoint that could not be bound.</summary>
    public IPEndPoint EndPoint { get; }

    /// <summary>The protocol of the listener that could not be bound.</summary>
    public TransportProtocol Protocol { get; }

    /// <summary>Why, as far as the errno and the kernel's socket table tell.</summary>
    public BindFailure Failure { get; }

    /// <summary>The socket error the kernel returned from bind() or listen().</summary>
    public SocketError SocketError { get; }

    /// <summary>
    /// For <see cref="BindFailure.PortHeldByOtherUser"/> and <see cref="BindFailure.PortHeldWithoutReuseport"/>: the socket
    /// in the kernel's table that holds the port (its owner uid and inode identify the culprit); otherwise null.
    /// </summary>
    public KernelSocketEntry? Holder { get; }

    /// <summary>An endpoint and protocol the way messages print them: <c>127.0.0.1:8080/tcp</c>, <c>[::1]:53/udp</c>.</summary>
    internal static string Describe(IPEndPoint endPoint, TransportProtocol protocol) =>
        $"{endPoint}/{(protocol == TransportProtocol.Tcp ? "tcp" : "udp")}";
}
