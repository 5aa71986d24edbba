using System.Net;
using System.Net.Sockets;

namespace ShardRuntime.Runtime.Systemd;

/// <summary>A listening socket this process inherited (from systemd socket activation), with the name it was given.</summary>
/// <param name="Name">The name from LISTEN_FDNAMES (systemd's FileDescriptorName=), or "unknown" when none was given.</param>
/// <param name="Socket">The adopted socket; the caller owns it.</param>
/// <param name="EndPoint">Where it listens.</param>
/// <param name="Protocol">TCP for a stream socket, UDP for a datagram socket.</param>
public sealed record ActivatedSocket(string Name, Socket Socket, IPEndPoint EndPoint, Sockets.TransportProtocol Protocol);
