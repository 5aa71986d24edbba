using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ShardRuntime.LoadGen.Tests.Support;

/// <summary>
/// A tiny TCP server on 127.0.0.1, port 0, for the load generator's specs: every accepted connection (numbered from
/// 1 in accept order) is served by a delegate. Disposing stops it and closes every connection.
/// </summary>
internal sealed class TestServer : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private readonly List<Socket> _accepted = [];
    private int _connections;

    private TestServer(Func<Socket, int, CancellationToken, Task> serve)
    {
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(1024);
        _acceptLoop = AcceptAsync(serve);
    }

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndPoint!;

    public int Connections => Volatile.Read(ref _connections);

    public static TestServer Start(Func<Socket, int, CancellationToken, Task> serve) => new(serve);

    /// <summary>An HTTP/1.1 keep-alive server that answers every request (pipelined too) with <paramref name="reply"/>(connection, request).</summary>
    public static TestServer Http(Func<int, int, string> reply) => Start(async (socket, connection, token) =>
    {
        int request = 0;
        await ForEachRequestAsync(socket, token, async () =>
        {
            request++;
            await SendAsync(socket, reply(connection, request), token);
        });
    });

    /// <summary>An HTTP 200 reply with <paramref name="body"/> and optional extra header lines.</summary>
    public static string Ok(string body = "OK", string extraHeaders = "") =>
        $"HTTP/1.1 200 OK\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n{extraHeaders}\r\n{body}";

    /// <summary>Calls <paramref name="onRequest"/> once per complete request head read from <paramref name="socket"/>, until EOF.</summary>
    public static async Task ForEachRequestAsync(Socket socket, CancellationToken token, Func<Task> onRequest)
    {
        var buffer = new byte[8192];
        int used = 0;
        while (true)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(used), SocketFlags.None, token);
            if (n == 0)
                return;
            used += n;
            int end;
            while ((end = buffer.AsSpan(0, used).IndexOf("\r\n\r\n"u8)) >= 0)
            {
                buffer.AsSpan(end + 4, used - end - 4).CopyTo(buffer);
                used -= end + 4;
                await onRequest();
            }
        }
    }

    public static async Task SendAsync(Socket socket, string text, CancellationToken token)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        int sent = 0;
        while (sent < bytes.Length)
            sent += await socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None, token);
    }

    private async Task AcceptAsync(Func<Socket, int, CancellationToken, Task> serve)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            lock (_accepted)
                _accepted.Add(socket);
            int number = Interlocked.Increment(ref _connections);
            _ = ServeAsync(socket, number, serve);
        }
    }

    private async Task ServeAsync(Socket socket, int number, Func<Socket, int, CancellationToken, Task> serve)
    {
        try
        {
            await serve(socket, number, _stop.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
        finally
        {
            socket.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _acceptLoop;
        lock (_accepted)
        {
            foreach (var socket in _accepted)
                socket.Dispose();
        }
        _stop.Dispose();
    }
}
