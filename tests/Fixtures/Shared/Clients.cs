using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ShardRuntime.Tests.Shared;

/// <summary>
/// Real TCP clients for the specs: connect, send, read, every wait bounded (by <see cref="Timeout"/> unless told).
/// Linked into the test projects that talk to a listener.
/// </summary>
internal static class Clients
{
    /// <summary>How long a client waits for the node when not told: generous, for a loaded 2-core machine.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    public static async Task<Socket> ConnectAsync(IPEndPoint endPoint, TimeSpan? timeout = null)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var cts = new CancellationTokenSource(timeout ?? Timeout);
            await socket.ConnectAsync(endPoint, cts.Token);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
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

    /// <summary>One HTTP/1.1 GET on a (keep-alive) connection; returns the whole response, head and body.</summary>
    public static async Task<HttpReply> HttpGetAsync(Socket socket, string path = "/", TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Timeout);
        await socket.SendAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n"), SocketFlags.None, cts.Token);
        var received = new StringBuilder();
        var buffer = new byte[4096];
        while (true)
        {
            var text = received.ToString();
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0)
            {
                var head = text[..end];
                var length = ContentLength(head);
                if (text.Length >= end + 4 + length)
                    return new HttpReply(head, text.Substring(end + 4, length));
            }
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            if (n == 0)
                throw new IOException($"connection closed mid-response after '{received}'");
            received.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
    }

    /// <summary>Sends <paramref name="payload"/> while reading, and returns the same number of bytes read back.</summary>
    public static async Task<byte[]> EchoAsync(Socket socket, byte[] payload, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Timeout);
        var send = socket.SendAsync(payload, SocketFlags.None, cts.Token).AsTask();
        var buffer = new byte[payload.Length];
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, cts.Token);
            if (n == 0)
                throw new IOException($"connection closed after {read} of {payload.Length} echoed bytes");
            read += n;
        }
        await send;
        return buffer;
    }

    private static int ContentLength(string head)
    {
        foreach (var line in head.Split("\r\n"))
        {
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
                return int.Parse(line["Content-Length:".Length..].Trim(), CultureInfo.InvariantCulture);
        }
        return 0;
    }
}
