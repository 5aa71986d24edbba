using System.Net;
using ShardRuntime.Runtime.Sockets;

namespace ShardRuntime.Runtime.Upgrade;

/// <summary>
/// What one listening socket is, as it travels to a successor process next to its descriptor. The successor checks
/// the socket it receives against it (family, type, listening state, local endpoint, inode) before adopting it.
/// </summary>
/// <param name="Listener">The name of the listener the socket serves.</param>
/// <param name="EndPoint">The local endpoint the socket is bound to (the real port, never 0).</param>
/// <param name="Protocol">TCP (a listening stream socket) or UDP (a bound datagram socket).</param>
/// <param name="ShardIndex">The shard of the listener that owns the socket.</param>
/// <param name="Inode">The kernel's inode of the socket (<see cref="KernelSocketTable.GetInode"/>); the sender fills it in.</param>
/// <param name="Position">
/// The socket's position in its kernel reuseport group (listen() order, see <c>ReuseportGroup</c>), so the successor can
/// steer connections by position without having seen the group form; -1 when the sender does not know it.
/// </param>
/// <param name="Pinned">
/// Another process that never lets go holds the socket too (systemd, for socket activation): closing every copy here
/// does not close it, so it must never be retired while a node runs.
/// </param>
public sealed record SocketLabel(
    string Listener, IPEndPoint EndPoint, TransportProtocol Protocol, int ShardIndex, long Inode, int Position = -1, bool Pinned = false)
{
    /// <inheritdoc />
    public override string ToString() => $"{Listener}#{ShardIndex} ({Protocol} {EndPoint}, inode {Inode})";
}
