using System.Net;
using System.Net.Sockets;

namespace ShardRuntime.EndToEnd.Tests.Support;

internal static class Ports
{
    /// <summary>A port that was free on <paramref name="address"/> (127.0.0.1 by default) a moment ago: for remoting, which must be told a fixed port to be told one at all.</summary>
    public static int FreeLoopback(string address = "127.0.0.1")
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Parse(address), 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
