using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ShardRuntime.Peers.RawSockets;

/// <summary>
/// What .NET sockets cost without actors: <c>listeningSockets</c> SO_REUSEPORT sockets on 127.0.0.1:port, one async
/// accept loop per socket, and per connection one async loop that receives into its own 4 KiB buffer, answers every
/// complete request (up to its <c>\r\n\r\n</c>; request bodies are not supported) with a fixed response and keeps the
/// connection open unless the request says <c>Connection: close</c>. <c>GET /64k</c> gets a 64 KiB body, anything
/// else <c>200 "OK"</c>. No Date header, no timeouts, no limits: a floor, not a server.
/// </summary>
internal sealed class RawHttpServer : IDisposable
{
    private const int SolSocket = 1;     // SOL_SOCKET
    private const int SoReusePort = 15;  // SO_REUSEPORT
    private const int BufferSize = 4096;

    private static readonly Response Ok = new("OK"u8.ToArray(), "text/plain");
    private static readonly Response Large = new(CreateLargeBody(), "application/octet-stream");

    private readonly Socket[] _listeners;

    public RawHttpServer(int port, int listeningSockets)
    {
        _listeners = new Socket[listeningSockets];
        for (var i = 0; i < listeningSockets; i++)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            // SO_REUSEPORT itself (ReuseAddress would set it too on Linux, silently).
            socket.SetRawSocketOption(SolSocket, SoReusePort, BitConverter.GetBytes(1));
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            socket.Listen(511);
            _listeners[i] = socket;
        }
    }

    /// <summary>Accepts on every listening socket until <see cref="Dispose"/> closes them.</summary>
    public Task RunAsync() => Task.WhenAll(_listeners.Select(AcceptLoopAsync));

    /// <summary>Closes the listening sockets; open connections are left to the process's exit.</summary>
    public void Dispose()
    {
        foreach (var listener in _listeners)
        {
            listener.Dispose();
        }
    }

    private static async Task AcceptLoopAsync(Socket listener)
    {
        while (true)
        {
            Socket connection;
            try
            {
                connection = await listener.AcceptAsync();
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.OperationAborted or SocketError.Interrupted)
            {
                return;
            }
            catch (SocketException)
            {
                continue; // a connection reset in the backlog, EMFILE, ...: keep accepting
            }

            connection.NoDelay = true;
            _ = ServeAsync(connection);
        }
    }

    private static async Task ServeAsync(Socket connection)
    {
        var buffer = new byte[BufferSize];
        var filled = 0;
        try
        {
            while (true)
            {
                var received = await connection.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None);
                if (received == 0)
                {
                    return;
                }

                filled += received;
                var start = 0;
                while (NextRequest(buffer, start, filled, out var end, out var large, out var close))
                {
                    var response = large ? Large : Ok;
                    await SendAllAsync(connection, close ? response.Closing : response.KeepAlive);
                    if (close)
                    {
                        return;
                    }

                    start = end;
                }

                if (start > 0)
                {
                    Buffer.BlockCopy(buffer, start, buffer, 0, filled - start);
                    filled -= start;
                }

                if (filled == buffer.Length)
                {
                    return; // a request head longer than the buffer
                }
            }
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            connection.Dispose();
        }
    }

    /// <summary>Finds the next complete request head in <c>buffer[start..filled]</c>.</summary>
    private static bool NextRequest(byte[] buffer, int start, int filled, out int end, out bool large, out bool close)
    {
        var pending = buffer.AsSpan(start, filled - start);
        var headEnd = pending.IndexOf("\r\n\r\n"u8);
        if (headEnd < 0)
        {
            end = start;
            large = close = false;
            return false;
        }

        var head = pending[..(headEnd + 4)];
        end = start + head.Length;
        large = head.StartsWith("GET /64k "u8);
        close = ContainsIgnoreCase(head, "\r\nconnection: close\r\n"u8);
        return true;
    }

    private static bool ContainsIgnoreCase(ReadOnlySpan<byte> text, ReadOnlySpan<byte> lowerCaseValue)
    {
        for (var i = 0; i + lowerCaseValue.Length <= text.Length; i++)
        {
            if (Ascii.EqualsIgnoreCase(text.Slice(i, lowerCaseValue.Length), lowerCaseValue))
            {
                return true;
            }
        }

        return false;
    }

    private static async Task SendAllAsync(Socket connection, ReadOnlyMemory<byte> data)
    {
        while (!data.IsEmpty)
        {
            var sent = await connection.SendAsync(data, SocketFlags.None);
            data = data[sent..];
        }
    }

    private static byte[] CreateLargeBody()
    {
        var body = new byte[64 * 1024];
        Array.Fill(body, (byte)'x');
        return body;
    }

    /// <summary>One fixed response, with and without <c>Connection: close</c>.</summary>
    private sealed class Response
    {
        public Response(byte[] body, string contentType)
        {
            KeepAlive = Build(body, contentType, "");
            Closing = Build(body, contentType, "Connection: close\r\n");
        }

        public byte[] KeepAlive { get; }

        public byte[] Closing { get; }

        private static byte[] Build(byte[] body, string contentType, string extra)
        {
            var head = Encoding.ASCII.GetBytes(
                $"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\nContent-Type: {contentType}\r\n{extra}\r\n");
            return [.. head, .. body];
        }
    }
}
