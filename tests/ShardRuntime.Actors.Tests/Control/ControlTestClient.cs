using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace ShardRuntime.Actors.Tests.Control;

/// <summary>A raw Unix domain socket client: writes whatever bytes a test gives it and reads the one reply line.</summary>
internal static class ControlTestClient
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    public static Task<JsonElement> SendAsync(string socketPath, string request, TimeSpan? timeout = null) =>
        SendAsync(socketPath, Encoding.UTF8.GetBytes(request), timeout);

    public static async Task<JsonElement> SendAsync(string socketPath, byte[] request, TimeSpan? timeout = null)
    {
        using var socket = await ConnectAsync(socketPath, timeout);
        return await SendOnAsync(socket, request, timeout);
    }

    public static async Task<Socket> ConnectAsync(string socketPath, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cts.Token);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Writes <paramref name="request"/> (a failed write is ignored: the server may refuse early) and reads the reply line.</summary>
    public static async Task<JsonElement> SendOnAsync(Socket socket, byte[] request, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            if (request.Length > 0)
                await socket.SendAsync(request, SocketFlags.None, cts.Token);
        }
        catch (SocketException)
        {
        }
        return await ReadReplyAsync(socket, cts.Token);
    }

    public static async Task<JsonElement> ReadReplyAsync(Socket socket, CancellationToken cancellationToken)
    {
        var received = new MemoryStream();
        var buffer = new byte[4096];
        while (true)
        {
            int read;
            try
            {
                read = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            }
            catch (SocketException) when (received.Length > 0)
            {
                break;
            }
            if (read == 0)
                break;
            received.Write(buffer, 0, read);
            if (Array.IndexOf(buffer, (byte)'\n', 0, read) >= 0)
                break;
        }

        var text = Encoding.UTF8.GetString(received.ToArray());
        Assert.EndsWith("\n", text);
        Assert.Equal(1, text.Count(c => c == '\n'));
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }
}
