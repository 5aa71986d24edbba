using System.Net;
using System.Net.Sockets;
using ShardRuntime.Runtime.Sockets;

namespace ShardRuntime.Runtime.Tests.Sockets;

/// <summary>Small helpers shared by the socket tests.</summary>
internal static class SocketTestKit
{
    public static readonly IPEndPoint LoopbackAnyPort = new(IPAddress.Loopback, 0);

    /// <summary>Binds <paramref name="count"/> reuseport shards: the first to port 0, the rest to the port it got.</summary>
    public static List<Socket> BindShards(int count, TransportProtocol protocol = TransportProtocol.Tcp, int backlog = 511)
    {
        var sockets = new List<Socket>();
        try
        {
            var first = ReuseportSocketFactory.Instance.Bind(new ListenerSocketOptions(LoopbackAnyPort, protocol, backlog));
            sockets.Add(first);
            var endPoint = (IPEndPoint)first.LocalEndPoint!;
            for (int i = 1; i < count; i++)
            {
                sockets.Add(ReuseportSocketFactory.Instance.Bind(new ListenerSocketOptions(endPoint, protocol, backlog)));
            }

            return sockets;
        }
        catch
        {
            DisposeAll(sockets);
            throw;
        }
    }

    public static int PortOf(Socket socket) => ((IPEndPoint)socket.LocalEndPoint!).Port;

    public static void DisposeAll(IEnumerable<Socket> sockets)
    {
        foreach (var socket in sockets)
        {
            socket.Dispose();
        }
    }
}
