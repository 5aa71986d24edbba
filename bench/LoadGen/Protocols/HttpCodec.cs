using System.Text;

namespace ShardRuntime.LoadGen.Protocols;

/// <summary>
/// HTTP/1.1: every request is <c>GET path HTTP/1.1</c> with a Host header. A reply is a status line, headers and a
/// body of <c>Content-Length</c> bytes (none for 1xx, 204 and 304; without Content-Length the body runs to EOF). The
/// right reply has status 200 and exactly the expected body. Chunked bodies are not supported (a wrong reply).
/// </summary>
internal sealed class HttpCodec : ReplyCodec
{
    /// <summary>A reply head longer than this is a wrong reply.</summary>
    public const int MaxHeadBytes = 64 * 1024;

    private readonly byte[] _request;
    private readonly byte[] _expectBody;
    private readonly byte[]? _generationHeader;

    public HttpCodec(string host, string path, string expectBody, string? generationHeader)
    {
        _request = Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");
        _expectBody = Encoding.UTF8.GetBytes(expectBody);
        _generationHeader = generationHeader is null ? null : Encoding.ASCII.GetBytes(generationHeader);
    }

    public override int MaxRequestBytes => _request.Length;

    /// <summary>The largest right reply's body.</summary>
    public int ExpectedBodyBytes => _expectBody.Length;

    public override int WriteRequest(Span<byte> destination, long sequence)
    {
        _request.CopyTo(destination);
        return _request.Length;
    }

    public override bool TryParse(ReadOnlySpan<byte> data, long sequence, bool eof, out ParsedReply reply)
    {
        reply = default;
        int headEnd = data.IndexOf("\r\n\r\n"u8);
        if (headEnd < 0)
        {
            if (data.Length > MaxHeadBytes)
            {
                reply = Malformed(data.Length, WrongReasons.TooLarge);
                return true;
            }
            return false;
        }
        var head = data[..headEnd];
        int lineEnd = head.IndexOf("\r\n"u8);
        var statusLine = lineEnd < 0 ? head : head[..lineEnd];
        // "HTTP/1.x NNN reason"
        if (statusLine.Length < 12 || !statusLine.StartsWith("HTTP/1."u8) || statusLine[8] != (byte)' '
            || !IsDigit(statusLine[9]) || !IsDigit(statusLine[10]) || !IsDigit(statusLine[11])
            || (statusLine.Length > 12 && statusLine[12] != (byte)' '))
        {
            reply = Malformed(data.Length, WrongReasons.MalformedStatusLine);
            return true;
        }
        int status = (statusLine[9] - '0') * 100 + (statusLine[10] - '0') * 10 + (statusLine[11] - '0');

        long contentLength = -1;
        bool close = statusLine[7] == (byte)'0';
        bool chunked = false;
        int generationStart = -1, generationLength = 0;
        int offset = lineEnd < 0 ? head.Length : lineEnd + 2;
        while (offset < head.Length)
        {
            var rest = head[offset..];
            int end = rest.IndexOf("\r\n"u8);
            var line = end < 0 ? rest : rest[..end];
            int colon = line.IndexOf((byte)':');
            if (colon <= 0)
            {
                reply = Malformed(data.Length, WrongReasons.MalformedHeader);
                return true;
            }
            var name = line[..colon];
            var value = Trim(line[(colon + 1)..], out int valueSkip);
            if (Ascii.EqualsIgnoreCase(name, "Content-Length"u8))
            {
                if (!TryParseLength(value, out long length) || (contentLength >= 0 && contentLength != length))
                {
                    reply = Malformed(data.Length, WrongReasons.BadContentLength);
                    return true;
                }
                contentLength = length;
            }
            else if (Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8))
            {
                chunked = true;
            }
            else if (Ascii.EqualsIgnoreCase(name, "Connection"u8))
            {
                close = Ascii.EqualsIgnoreCase(value, "close"u8) || (close && !Ascii.EqualsIgnoreCase(value, "keep-alive"u8));
            }
            else if (_generationHeader is not null && Ascii.EqualsIgnoreCase(name, _generationHeader))
            {
                generationStart = offset + colon + 1 + valueSkip;
                generationLength = value.Length;
            }
            offset += end < 0 ? rest.Length : end + 2;
        }
        if (chunked)
        {
            reply = Malformed(data.Length, WrongReasons.Chunked);
            return true;
        }

        int bodyStart = headEnd + 4;
        int bodyLength;
        if (status is (>= 100 and < 200) or 204 or 304)
        {
            bodyLength = 0;
        }
        else if (contentLength >= 0)
        {
            if (contentLength > MaxHeadBytes + (long)_expectBody.Length * 2 + (1 << 20))
            {
                reply = Malformed(data.Length, WrongReasons.TooLarge);
                return true;
            }
            bodyLength = (int)contentLength;
            if (data.Length - bodyStart < bodyLength)
                return false;
        }
        else
        {
            // No length: the body runs to the end of the connection.
            if (!eof)
            {
                if (data.Length - bodyStart > (1 << 20))
                {
                    reply = Malformed(data.Length, WrongReasons.TooLarge);
                    return true;
                }
                return false;
            }
            bodyLength = data.Length - bodyStart;
            close = true;
        }

        string? wrong = status != 200 ? WrongReasons.Status
            : !data.Slice(bodyStart, bodyLength).SequenceEqual(_expectBody) ? WrongReasons.Body
            : null;
        reply = new ParsedReply(bodyStart + bodyLength, wrong, Framed: true, close, generationStart, generationLength);
        return true;
    }

    private static ParsedReply Malformed(int length, string reason) => new(length, reason, Framed: false, CloseAfter: true, -1, 0);

    private static bool IsDigit(byte b) => b is >= (byte)'0' and <= (byte)'9';

    private static ReadOnlySpan<byte> Trim(ReadOnlySpan<byte> value, out int skipped)
    {
        int start = 0;
        while (start < value.Length && value[start] is (byte)' ' or (byte)'\t')
            start++;
        int end = value.Length;
        while (end > start && value[end - 1] is (byte)' ' or (byte)'\t')
            end--;
        skipped = start;
        return value[start..end];
    }

    private static bool TryParseLength(ReadOnlySpan<byte> value, out long length)
    {
        length = 0;
        if (value.IsEmpty || value.Length > 15)
            return false;
        foreach (byte b in value)
        {
            if (!IsDigit(b))
                return false;
            length = length * 10 + (b - '0');
        }
        return true;
    }
}
