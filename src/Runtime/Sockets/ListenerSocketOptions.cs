using System.Net;

namespace ShardRuntime.Runtime.Sockets;

/// <summary>
/// What <see cref="IListenerSocketFactory.Bind"/> creates: one listening socket on <paramref name="EndPoint"/>.
/// Every shard of a listener is bound with the same options; to share an ephemeral port, bind the first shard
/// to port 0 and bind the others to the port it obtained (read back from <see cref="System.Net.Sockets.Socket.LocalEndPoint"/>).
/// </summary>
/// <param name="EndPoint">
/// Local address and port. An IPv6 address (including <c>[::]</c>) gets an IPv6-only socket, so the result does not
/// depend on the <c>net.ipv6.bindv6only</c> sysctl and <c>[::]:p</c> and <c>0.0.0.0:p</c> can be separate listeners.
/// </param>
/// <param name="Protocol">TCP (bind and listen) or UDP (bind only).</param>
/// <param name="Backlog">
/// The listen() backlog for TCP (ignored for UDP). The kernel silently caps it at <c>net.core.somaxconn</c>;
/// 511 is nginx's default.
/// </param>
public sealed record ListenerSocketOptions(IPEndPoint EndPoint, TransportProtocol Protocol = TransportProtocol.Tcp, int Backlog = 511)
{
    /// <summary>The endpoint as logs and error messages print it, e.g. <c>127.0.0.1:8080/tcp</c> or <c>[::1]:53/udp</c>.</summary>
    public override string ToString() => ListenerBindException.Describe(EndPoint, Protocol);
}
