using System.Net;

namespace ShardRuntime.Runtime.Sockets;

/// <summary>One socket as the kernel lists it in <c>/proc/net/{tcp,tcp6,udp,udp6}</c> (what <c>ss</c> shows).</summary>
/// <param name="LocalEndPoint">
/// The bound address and port. Entries from the IPv6 tables keep their IPv6 form, including v4-mapped
/// addresses (<c>::ffff:127.0.0.1</c>).
/// </param>
/// <param name="Protocol">Which table it came from.</param>
/// <param name="State">
/// The kernel's name of the state: <c>LISTEN</c>, <c>ESTABLISHED</c>, <c>TIME_WAIT</c>, <c>CLOSE</c> (bound, not
/// listening), ... for TCP; <c>UNCONN</c> (bound, not connected: a UDP listener) or <c>ESTABLISHED</c> for UDP.
/// </param>
/// <param name="Inode">The socket's inode, the number in <c>socket:[N]</c> of <c>/proc/PID/fd</c> links (0 for TIME_WAIT).</param>
/// <param name="Uid">The owner's uid (the creator's effective uid); the kernel lets only equal uids share a reuseport port.</param>
/// <param name="Backlog">
/// The listen() backlog (after the somaxconn cap) for TCP LISTEN sockets, read through sock_diag netlink since /proc
/// does not show it (<c>ss</c>'s Send-Q); -1 for other sockets or when netlink is unavailable.
/// </param>
/// <param name="QueueLength">Connections waiting in the accept queue for TCP LISTEN sockets; -1 otherwise.</param>
public sealed record KernelSocketEntry(
    IPEndPoint LocalEndPoint,
    TransportProtocol Protocol,
    string State,
    long Inode,
    int Uid,
    int Backlog,
    int QueueLength);
