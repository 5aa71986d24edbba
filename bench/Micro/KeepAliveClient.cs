using System.Net;
using System.Net.Sockets;

namespace ShardRuntime.Micro;

/// <summary>
/// One keep-alive HTTP connection from a blocking socket, with its request and response buffers made up front, so that
/// sending and reading a response allocates nothing on the client's side. Every <c>http-ok</c> response has the same
/// length (the Date field is fixed-length), learnt from the first one.
/// </summary>
internal sealed class KeepAliveClient : IDisposable
{
    private static ReadOnlySpan<byte> StatusLine => "HTTP/1.1 200 OK\r\n"u8;

    private readonly Socket _socket;
    private readonly byte[] _one;
    private readonly byte[] _pipelined;
    private readonly byte[] _responses;

    public KeepAliveClient(IPEndPoint server)
    {
        _socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        _socket.Connect(server);
        _one = Requests.Get($"{server.Address}:{server.Port}");
        _pipelined = Requests.Repeat(_one, Requests.PipelineDepth);
        ResponseLength = LearnResponseLength();
        _responses = new byte[ResponseLength * Requests.PipelineDepth];
    }

    /// <summary>Length in bytes of one response.</summary>
    public int ResponseLength { get; }

    /// <summary>Sends one GET.</summary>
    public void SendOne() => SendAll(_one);

    /// <summary>Sends <see cref="Requests.PipelineDepth"/> GETs in one write.</summary>
    public void SendPipelined() => SendAll(_pipelined);

    /// <summary>Reads <paramref name="count"/> whole responses and checks that the first and the last are 200 OK.</summary>
    public void Receive(int count)
    {
        var total = ResponseLength * count;
        var read = 0;
        while (read < total)
        {
            var n = _socket.Receive(_responses, read, total - read, SocketFlags.None);
            if (n == 0) throw new InvalidOperationException($"the server closed the connection after {read} of {total} bytes");
            read += n;
        }
        if (!_responses.AsSpan().StartsWith(StatusLine) || !_responses.AsSpan((count - 1) * ResponseLength).StartsWith(StatusLine))
            throw new InvalidOperationException("a response is not 200 OK (or not of the length of the first)");
    }

    public void Dispose() => _socket.Dispose();

    private void SendAll(byte[] bytes)
    {
        var sent = 0;
        while (sent < bytes.Length) sent += _socket.Send(bytes, sent, bytes.Length - sent, SocketFlags.None);
    }

    /// <summary>Sends one GET and reads its response up to the end of its body (head, then Content-Length bytes).</summary>
    private int LearnResponseLength()
    {
        SendAll(_one);
        var buffer = new byte[4096];
        var read = 0;
        while (true)
        {
            var n = _socket.Receive(buffer, read, buffer.Length - read, SocketFlags.None);
            if (n == 0) throw new InvalidOperationException("the server closed the connection before its first response");
            read += n;
            var text = System.Text.Encoding.ASCII.GetString(buffer, 0, read);
            var headEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (headEnd < 0) continue;
            if (!text.StartsWith("HTTP/1.1 200 OK\r\n", StringComparison.Ordinal))
                throw new InvalidOperationException($"unexpected first response: {text}");
            var field = text[..headEnd].Split("\r\n").Single(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
            var length = headEnd + 4 + int.Parse(field["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            if (read > length) throw new InvalidOperationException("the server sent more than one response");
            if (read == length) return length;
        }
    }
}
