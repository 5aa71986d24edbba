using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ShardRuntime.Actors.Tests.Support;

/// <summary>Real loopback clients for the specs: connect, send, read with bounded timeouts.</summary>
internal static class Clients
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    public static async Task<Socket> ConnectAsync(IPEndPoint endPoint)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var cts = new CancellationTokenSource(Timeout);
        await socket.ConnectAsync(endPoint, cts.Token);
        return socket;
    }

    /// <summary>Opens <paramref name="count"/> echo connections, each echoing one round trip so it is certainly accepted.</summary>
    public static async Task<List<Socket>> OpenEchoedAsync(IPEndPoint endPoint, int count, string probe = "x")
    {
        var clients = new List<Socket>(count);
        for (var i = 0; i < count; i++)
        {
            var client = await ConnectAsync(endPoint);
            await SendAsync(client, probe);
            Assert.Equal(Encoding.ASCII.GetBytes(probe), await ReceiveExactlyAsync(client, probe.Length));
            clients.Add(client);
        }
        return clients;
    }

    public static async Task SendAsync(Socket socket, string text)
    {
        using var cts = new CancellationTokenSource(Timeout);
        await socket.SendAsync(Encoding.ASCII.GetBytes(text), SocketFlags.None, cts.Token);
    }

    /// <summary>Reads until <paramref name="count"/> bytes arrived; fails on EOF or timeout.</summary>
    public static async Task<byte[]> ReceiveExactlyAsync(Socket socket, int count)
    {
        var buffer = new byte[count];
        var read = 0;
        using var cts = new CancellationTokenSource(Timeout);
        while (read < count)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, cts.Token);
            if (n == 0) throw new IOException($"connection closed after {read} of {count} bytes");
            read += n;
        }
        return buffer;
    }

    /// <summary>Reads until the peer closes (returns what came) or resets (throws); bounded by the timeout.</summary>
    public static async Task<string> ReceiveToEndAsync(Socket socket, TimeSpan? timeout = null)
    {
        var buffer = new byte[64 * 1024];
        var sb = new StringBuilder();
        using var cts = new CancellationTokenSource(timeout ?? Timeout);
        while (true)
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            if (n == 0) return sb.ToString();
            sb.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
    }

    /// <summary>One HTTP/1.1 request on a keep-alive connection; returns the response head and body.</summary>
    public static async Task<string> HttpGetAsync(Socket socket, string path = "/")
    {
        await SendAsync(socket, $"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
        var sb = new StringBuilder();
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(Timeout);
        while (true)
        {
            var text = sb.ToString();
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0)
            {
                var length = ContentLength(text[..end]);
                if (text.Length >= end + 4 + length) return text[..(end + 4 + length)];
            }
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            if (n == 0) throw new IOException($"connection closed mid-response: '{sb}'");
            sb.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
    }

    private static int ContentLength(string head)
    {
        foreach (var line in head.Split("\r\n"))
        {
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
                return int.Parse(line["Content-Length:".Length..].Trim());
        }
        return 0;
    }
}
