using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using ShardRuntime.Runtime.Connections;

namespace ShardRuntime.Runtime.Handlers;

/// <summary>
/// A minimal HTTP/1.1 keep-alive responder that answers every request with <c>200 OK</c> and the body
/// <c>OK</c>: the job nginx does with <c>return 200 "OK"</c>. Another fixed body can be given (see
/// <see cref="HttpOkHandlerFactory(int, ReadOnlyMemory{byte}, string)"/>), for example 64 KiB to measure bulk transfer. One
/// instance serves one connection.
/// </summary>
/// <remarks>
/// <para>
/// Framing. Every complete request in the received bytes is answered, in order (pipelining); a request that
/// is not complete yet is left unconsumed and parsed again, with the bytes that follow, on the next call.
/// A request is answered once its body has been read: <c>Content-Length</c> bodies and
/// <c>Transfer-Encoding: chunked</c> bodies (chunk extensions and trailer fields included) are consumed as
/// they arrive and discarded, never buffered. <c>Expect: 100-continue</c> on an HTTP/1.1 request with a body
/// gets an interim <c>100 Continue</c>.
/// </para>
/// <para>
/// Connection. HTTP/1.1 keeps the connection open unless the request says <c>Connection: close</c>;
/// HTTP/1.0 closes unless it says <c>Connection: keep-alive</c> (answered with <c>Connection: keep-alive</c>).
/// A connection the node drains (<see cref="IConnectionContext.IsDraining"/>) closes after its next response.
/// A closing response carries <c>Connection: close</c>, then the connection is closed gracefully and any
/// bytes that follow are ignored. When the peer half-closes, the requests already complete have been answered;
/// an incomplete one is dropped and the connection closed.
/// </para>
/// <para>
/// Strictness. Lines must end with CRLF: a bare LF anywhere in a request head, chunk line or trailer is
/// rejected, as is a bare CR (RFC 9112 allows a recipient to accept a bare LF; refusing it keeps one
/// unambiguous framing, which is what request-smuggling defences want). Empty lines before a request line are
/// skipped (RFC 9112 section 2.2). The method must be a token, the target visible ASCII, the version
/// <c>HTTP/1.0</c> or <c>HTTP/1.x</c> (case-sensitive); header names must be tokens followed directly by a
/// colon (no whitespace, no obs-fold); header values may not hold control characters other than HTAB.
/// <c>Content-Length</c> must be digits only (repeated only with the same value); <c>Transfer-Encoding</c>
/// must end in <c>chunked</c>, may not be combined with <c>Content-Length</c>, and may not appear in
/// HTTP/1.0. Anything else is answered with <c>400 Bad Request</c> and <c>Connection: close</c>, then closed.
/// A head longer than the limit (request line to final empty line) is answered with
/// <c>431 Request Header Fields Too Large</c> and closed; so is a trailer section longer than that limit.
/// A request whose head (or chunk line, or trailer) stays incomplete for the listener's request-head timeout (a client
/// trickling it) is answered with <c>408 Request Timeout</c> and closed (<see cref="OnRequestTimedOut"/>).
/// <c>Host</c> is not required.
/// </para>
/// <para>
/// Cost. Parsing works on spans and responses are copied from static bytes (with a per-thread cached
/// <c>Date</c>), so a request in steady state allocates nothing.
/// </para>
/// </remarks>
public sealed class HttpOkHandler : IConnectionHandler
{
    /// <summary>Default limit of a request head in bytes (8 KiB).</summary>
    public const int DefaultMaxRequestHeadSize = 8 * 1024;

    /// <summary>Smallest accepted limit of a request head in bytes.</summary>
    public const int MinRequestHeadSize = 64;

    /// <summary>Longest chunk-size line (size, extensions, CRLF) accepted in a chunked body.</summary>
    private const int MaxChunkLineLength = 1024;

    private static readonly SearchValues<byte> TokenChars =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    private static readonly SearchValues<byte> InvalidFieldValueChars = SearchValues.Create(
    [
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F,
        0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F, 0x7F,
    ]);

    private readonly int _maxHeadSize;
    private readonly OkResponse _response;
    private State _state;
    private int _scanOffset;
    private long _remaining;
    private int _trailerBytes;
    private bool _isHead;
    private Persistence _persistence;

    /// <summary>Creates a handler for one connection.</summary>
    /// <param name="maxRequestHeadSize">Limit of a request head (request line, header fields, final empty line) in bytes.</param>
    /// <exception cref="ArgumentOutOfRangeException">The limit is below <see cref="MinRequestHeadSize"/>.</exception>
    public HttpOkHandler(int maxRequestHeadSize = DefaultMaxRequestHeadSize)
        : this(maxRequestHeadSize, OkResponse.Default)
    {
    }

    /// <summary>Creates a handler for one connection that answers with <paramref name="body"/>.</summary>
    /// <param name="maxRequestHeadSize">Limit of a request head (request line, header fields, final empty line) in bytes.</param>
    /// <param name="body">The body of every <c>200 OK</c> (copied).</param>
    /// <exception cref="ArgumentOutOfRangeException">The limit is below <see cref="MinRequestHeadSize"/>.</exception>
    public HttpOkHandler(int maxRequestHeadSize, ReadOnlyMemory<byte> body)
        : this(maxRequestHeadSize, new OkResponse(body.Span))
    {
    }

    internal HttpOkHandler(int maxRequestHeadSize, OkResponse response)
    {
        ValidateMaxRequestHeadSize(maxRequestHeadSize);
        _maxHeadSize = maxRequestHeadSize;
        _response = response;
    }

    private enum State
    {
        Head,
        Body,
        ChunkSize,
        ChunkData,
        ChunkDataEnd,
        Trailers,
        Closed,
    }

    private enum Persistence
    {
        /// <summary>HTTP/1.1 default: stay open, say nothing.</summary>
        KeepAlive,
        /// <summary>HTTP/1.0 that asked to stay open: stay open and say so.</summary>
        KeepAliveAnnounced,
        /// <summary>Close after the response and say so.</summary>
        Close,
    }

    private enum Failure
    {
        BadRequest,
        HeadTooLarge,
    }

    private static ReadOnlySpan<byte> KeepAliveEnd => "\r\n\r\n"u8;
    private static ReadOnlySpan<byte> KeepAliveAnnouncedEnd => "\r\nConnection: keep-alive\r\n\r\n"u8;
    private static ReadOnlySpan<byte> CloseEnd => "\r\nConnection: close\r\n\r\n"u8;
    private static ReadOnlySpan<byte> Continue => "HTTP/1.1 100 Continue\r\n\r\n"u8;

    private static ReadOnlySpan<byte> BadRequestHead =>
        "HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\nContent-Type: text/plain\r\nConnection: close\r\nDate: "u8;
    private static ReadOnlySpan<byte> BadRequestEnd => "\r\n\r\nBad Request"u8;

    private static ReadOnlySpan<byte> RequestTimeoutHead =>
        "HTTP/1.1 408 Request Timeout\r\nContent-Length: 15\r\nContent-Type: text/plain\r\nConnection: close\r\nDate: "u8;
    private static ReadOnlySpan<byte> RequestTimeoutEnd => "\r\n\r\nRequest Timeout"u8;

    private static ReadOnlySpan<byte> HeadTooLargeHead =>
        "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 31\r\nContent-Type: text/plain\r\nConnection: close\r\nDate: "u8;
    private static ReadOnlySpan<byte> HeadTooLargeEnd => "\r\n\r\nRequest Header Fields Too Large"u8;

    /// <inheritdoc />
    public int OnReceived(IConnectionContext context, ReadOnlySpan<byte> data)
    {
        if (_state == State.Closed || context.IsClosing)
        {
            _state = State.Closed;
            return data.Length;
        }

        var consumed = 0;
        while (true)
        {
            var rest = data[consumed..];
            var step = _state switch
            {
                State.Head => ReadHead(context, rest),
                State.Body => ReadBody(context, rest),
                State.ChunkSize => ReadChunkSize(context, rest),
                State.ChunkData => ReadChunkData(rest),
                State.ChunkDataEnd => ReadChunkDataEnd(context, rest),
                State.Trailers => ReadTrailer(context, rest),
                _ => 0,
            };

            if (_state == State.Closed)
            {
                return data.Length;
            }

            // Every step that makes progress consumes at least one byte; zero means it waits for more data.
            if (step == 0)
            {
                return consumed;
            }

            consumed += step;
        }
    }

    /// <summary>Every complete request has been answered already; whatever is incomplete is dropped.</summary>
    public void OnInputEnded(IConnectionContext context, int unconsumed)
    {
        _state = State.Closed;
        context.Close();
    }

    /// <summary>
    /// The request begun in the unconsumed bytes did not complete within the listener's request-head timeout (a client
    /// trickling its head): answered with <c>408 Request Timeout</c> and <c>Connection: close</c>; the connection closes.
    /// </summary>
    public void OnRequestTimedOut(IConnectionContext context, int unconsumed)
    {
        if (_state != State.Closed) WriteResponse(context, RequestTimeoutHead, RequestTimeoutEnd, default);
        _state = State.Closed;
        context.Close();
    }

    internal static void ValidateMaxRequestHeadSize(int maxRequestHeadSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRequestHeadSize, MinRequestHeadSize);
    }

    private int ReadHead(IConnectionContext context, ReadOnlySpan<byte> rest)
    {
        if (rest.IsEmpty)
        {
            return 0;
        }

        if (rest[0] == (byte)'\r')
        {
            if (rest.Length < 2)
            {
                return 0;
            }

            if (rest[1] == (byte)'\n')
            {
                return 2; // an empty line before the request line
            }
        }

        // Find the empty line that ends the head, checking line endings on the way. Lines already checked in
        // an earlier call (the head is presented again from its start) are not scanned again.
        var window = rest[..Math.Min(rest.Length, _maxHeadSize)];
        var scan = _scanOffset;
        while (true)
        {
            var lf = window[scan..].IndexOf((byte)'\n');
            if (lf < 0)
            {
                break;
            }

            var lineFeed = scan + lf;
            if (lf == 0 || window[lineFeed - 1] != (byte)'\r')
            {
                return Fail(context, Failure.BadRequest);
            }

            if (lf == 1)
            {
                _scanOffset = 0;
                var head = window[..(lineFeed + 1)];
                ParseHead(context, head);
                return head.Length;
            }

            scan = lineFeed + 1;
        }

        if (rest.Length >= _maxHeadSize)
        {
            return Fail(context, Failure.HeadTooLarge);
        }

        _scanOffset = scan;
        return 0;
    }

    private void ParseHead(IConnectionContext context, ReadOnlySpan<byte> head)
    {
        if (!TryParseHead(head, out var request))
        {
            Fail(context, Failure.BadRequest);
            return;
        }

        BeginRequest(context, in request);
    }

    /// <summary>Reads the request line and the header fields that matter here. False when the head is malformed (a 400).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryParseHead(ReadOnlySpan<byte> head, out RequestHead request)
    {
        request = new RequestHead { ContentLength = -1 };
        var requestLineEnd = head.IndexOf("\r\n"u8);
        if (!TryParseRequestLine(head[..requestLineEnd], out request.IsHead, out request.Http10))
        {
            return false;
        }

        var fields = head[(requestLineEnd + 2)..^2];
        while (!fields.IsEmpty)
        {
            var lineEnd = fields.IndexOf("\r\n"u8);
            var line = fields[..lineEnd];
            fields = fields[(lineEnd + 2)..];
            if (!TryParseField(line, out var name, out var value) || !request.TryAdd(name, value))
            {
                return false;
            }
        }

        return !request.TransferEncoding || (request.Chunked && request.ContentLength < 0 && !request.Http10);
    }

    /// <summary>Sets up the connection for the request's body (chunked, or of a length), or answers a request without one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void BeginRequest(IConnectionContext context, in RequestHead request)
    {
        _isHead = request.IsHead;
        _persistence = request.Close ? Persistence.Close
            : !request.Http10 ? Persistence.KeepAlive
            : request.KeepAlive ? Persistence.KeepAliveAnnounced
            : Persistence.Close;

        if (request.Chunked)
        {
            _state = State.ChunkSize;
        }
        else if (request.ContentLength > 0)
        {
            _state = State.Body;
            _remaining = request.ContentLength;
        }
        else
        {
            Complete(context);
            return;
        }

        if (request.ExpectContinue && !request.Http10)
        {
            context.Write(Continue);
        }
    }

    private int ReadBody(IConnectionContext context, ReadOnlySpan<byte> rest)
    {
        var skipped = (int)Math.Min(_remaining, rest.Length);
        _remaining -= skipped;
        if (_remaining == 0 && skipped > 0)
        {
            Complete(context);
        }

        return skipped;
    }

    private int ReadChunkSize(IConnectionContext context, ReadOnlySpan<byte> rest)
    {
        if (rest.IsEmpty)
        {
            return 0;
        }

        var lf = rest[..Math.Min(rest.Length, MaxChunkLineLength)].IndexOf((byte)'\n');
        if (lf < 0)
        {
            return rest.Length >= MaxChunkLineLength ? Fail(context, Failure.BadRequest) : 0;
        }

        if (lf == 0 || rest[lf - 1] != (byte)'\r' || !TryParseChunkSize(rest[..(lf - 1)], out var size))
        {
            return Fail(context, Failure.BadRequest);
        }

        if (size == 0)
        {
            _state = State.Trailers;
            _trailerBytes = 0;
        }
        else
        {
            _state = State.ChunkData;
            _remaining = size;
        }

        return lf + 1;
    }

    private int ReadChunkData(ReadOnlySpan<byte> rest)
    {
        var skipped = (int)Math.Min(_remaining, rest.Length);
        _remaining -= skipped;
        if (_remaining == 0 && skipped > 0)
        {
            _state = State.ChunkDataEnd;
        }

        return skipped;
    }

    private int ReadChunkDataEnd(IConnectionContext context, ReadOnlySpan<byte> rest)
    {
        if (rest.Length < 2)
        {
            return rest.Length == 1 && rest[0] != (byte)'\r' ? Fail(context, Failure.BadRequest) : 0;
        }

        if (rest[0] != (byte)'\r' || rest[1] != (byte)'\n')
        {
            return Fail(context, Failure.BadRequest);
        }

        _state = State.ChunkSize;
        return 2;
    }

    private int ReadTrailer(IConnectionContext context, ReadOnlySpan<byte> rest)
    {
        if (rest.IsEmpty)
        {
            return 0;
        }

        var allowed = _maxHeadSize - _trailerBytes;
        var lf = rest[..Math.Min(rest.Length, allowed)].IndexOf((byte)'\n');
        if (lf < 0)
        {
            return rest.Length >= allowed ? Fail(context, Failure.HeadTooLarge) : 0;
        }

        if (lf == 0 || rest[lf - 1] != (byte)'\r')
        {
            return Fail(context, Failure.BadRequest);
        }

        if (lf == 1)
        {
            Complete(context);
            return 2;
        }

        if (!TryParseField(rest[..(lf - 1)], out _, out _))
        {
            return Fail(context, Failure.BadRequest);
        }

        _trailerBytes += lf + 1;
        return lf + 1;
    }

    private void Complete(IConnectionContext context)
    {
        // The client asked for the close (it sends nothing more): no need to wait for its FIN. A draining connection
        // says so on its next response and closes after it, waiting for the client's FIN (it may have sent more).
        var clientCloses = _persistence == Persistence.Close;
        if (context.IsDraining) _persistence = Persistence.Close;
        var end = _persistence switch
        {
            Persistence.KeepAlive => KeepAliveEnd,
            Persistence.KeepAliveAnnounced => KeepAliveAnnouncedEnd,
            _ => CloseEnd,
        };

        WriteResponse(context, _response.Head, end, _isHead ? default : _response.Body);
        if (_persistence == Persistence.Close)
        {
            _state = State.Closed;
            if (clientCloses) context.CloseWithoutLinger();
            else context.Close();
        }
        else
        {
            _state = State.Head;
        }
    }

    private int Fail(IConnectionContext context, Failure failure)
    {
        if (failure == Failure.HeadTooLarge)
        {
            WriteResponse(context, HeadTooLargeHead, HeadTooLargeEnd, default);
        }
        else
        {
            WriteResponse(context, BadRequestHead, BadRequestEnd, default);
        }

        _state = State.Closed;
        context.Close();
        return 0;
    }

    /// <summary>
    /// Writes <paramref name="head"/> (ending in <c>Date: </c>), the date, <paramref name="end"/> and
    /// <paramref name="body"/>, assembled on the stack (a body too large for that follows in a second write, which the
    /// connection packs behind the first).
    /// </summary>
    private static void WriteResponse(
        IConnectionContext context,
        ReadOnlySpan<byte> head,
        ReadOnlySpan<byte> end,
        ReadOnlySpan<byte> body)
    {
        Span<byte> buffer = stackalloc byte[512];
        var length = 0;
        Append(buffer, ref length, head);
        Append(buffer, ref length, HttpDate.Current);
        Append(buffer, ref length, end);
        if (length + body.Length <= buffer.Length)
        {
            Append(buffer, ref length, body);
            context.Write(buffer[..length]);
            return;
        }

        context.Write(buffer[..length]);
        context.Write(body);
    }

    private static void Append(Span<byte> buffer, ref int length, ReadOnlySpan<byte> part)
    {
        part.CopyTo(buffer[length..]);
        length += part.Length;
    }

    private static bool TryParseRequestLine(ReadOnlySpan<byte> line, out bool isHead, out bool http10)
    {
        isHead = false;
        http10 = false;

        var methodEnd = line.IndexOf((byte)' ');
        if (methodEnd <= 0)
        {
            return false;
        }

        var method = line[..methodEnd];
        if (method.ContainsAnyExcept(TokenChars))
        {
            return false;
        }

        var afterMethod = line[(methodEnd + 1)..];
        var targetEnd = afterMethod.IndexOf((byte)' ');
        if (targetEnd <= 0 || afterMethod[..targetEnd].ContainsAnyExceptInRange((byte)0x21, (byte)0x7E))
        {
            return false;
        }

        var version = afterMethod[(targetEnd + 1)..];
        if (version.Length != 8 || !version.StartsWith("HTTP/1."u8) || !char.IsAsciiDigit((char)version[7]))
        {
            return false;
        }

        isHead = method.SequenceEqual("HEAD"u8);
        http10 = version[7] == (byte)'0';
        return true;
    }

    private static bool TryParseField(ReadOnlySpan<byte> line, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        var colon = line.IndexOf((byte)':');
        if (colon <= 0)
        {
            name = value = default;
            return false;
        }

        name = line[..colon];
        value = line[(colon + 1)..].Trim(" \t"u8);
        return !name.ContainsAnyExcept(TokenChars) && !value.ContainsAny(InvalidFieldValueChars);
    }

    private static bool TryParseContentLength(ReadOnlySpan<byte> value, out long length)
    {
        length = 0;
        if (value.IsEmpty)
        {
            return false;
        }

        foreach (var b in value)
        {
            if (!char.IsAsciiDigit((char)b) || length > (long.MaxValue - 9) / 10)
            {
                return false;
            }

            length = (length * 10) + (b - '0');
        }

        return true;
    }

    private static bool TryParseChunkSize(ReadOnlySpan<byte> line, out long size)
    {
        size = 0;
        var digits = 0;
        while (digits < line.Length && char.IsAsciiHexDigit((char)line[digits]))
        {
            if (size > long.MaxValue >> 4)
            {
                return false;
            }

            size = (size << 4) | (long)HexValue(line[digits]);
            digits++;
        }

        if (digits == 0)
        {
            return false;
        }

        // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ); extensions are ignored but must be clean.
        var extensions = line[digits..];
        if (extensions.IsEmpty)
        {
            return true;
        }

        var trimmed = extensions.TrimStart(" \t"u8);
        return !trimmed.IsEmpty && trimmed[0] == (byte)';' && !extensions.ContainsAny(InvalidFieldValueChars);
    }

    private static int HexValue(byte b) => b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10;

    private static bool EndsWithChunked(ReadOnlySpan<byte> value)
    {
        var lastComma = value.LastIndexOf((byte)',');
        var last = value[(lastComma + 1)..].Trim(" \t"u8);
        return Ascii.EqualsIgnoreCase(last, "chunked"u8);
    }

    private static void ReadConnectionOptions(ReadOnlySpan<byte> value, ref bool close, ref bool keepAlive)
    {
        while (true)
        {
            var comma = value.IndexOf((byte)',');
            var option = (comma < 0 ? value : value[..comma]).Trim(" \t"u8);
            close |= Ascii.EqualsIgnoreCase(option, "close"u8);
            keepAlive |= Ascii.EqualsIgnoreCase(option, "keep-alive"u8);
            if (comma < 0)
            {
                return;
            }

            value = value[(comma + 1)..];
        }
    }

    /// <summary>What a request's head says about its framing and the connection: filled in by <see cref="TryParseHead"/>, on the stack.</summary>
    private struct RequestHead
    {
        public bool IsHead;
        public bool Http10;
        public long ContentLength; // -1: none
        public bool TransferEncoding;
        public bool Chunked;
        public bool Close;
        public bool KeepAlive;
        public bool ExpectContinue;

        /// <summary>Takes in one header field (those other than the four read here are ignored). False when it is malformed.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool TryAdd(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
        {
            if (Ascii.EqualsIgnoreCase(name, "content-length"u8))
            {
                if (!TryParseContentLength(value, out var length) || (ContentLength >= 0 && ContentLength != length))
                {
                    return false;
                }

                ContentLength = length;
            }
            else if (Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8))
            {
                // Codings listed in later fields are applied after earlier ones, so the last one decides.
                TransferEncoding = true;
                Chunked = EndsWithChunked(value);
            }
            else if (Ascii.EqualsIgnoreCase(name, "connection"u8))
            {
                ReadConnectionOptions(value, ref Close, ref KeepAlive);
            }
            else if (Ascii.EqualsIgnoreCase(name, "expect"u8))
            {
                ExpectContinue = Ascii.EqualsIgnoreCase(value, "100-continue"u8);
            }

            return true;
        }
    }

    /// <summary>The head (up to <c>Date: </c>) and body of the <c>200 OK</c>, made once and shared by every handler of a factory.</summary>
    internal sealed class OkResponse
    {
        /// <summary>Longest head this response may have: the status line, three fields and room for the date and the end.</summary>
        private const int MaxHeadLength = 128;

        public static readonly OkResponse Default = new("OK"u8);

        public OkResponse(ReadOnlySpan<byte> body)
        {
            Body = body.ToArray();
            Head = System.Text.Encoding.ASCII.GetBytes(
                $"HTTP/1.1 200 OK\r\nContent-Length: {Body.Length}\r\nContent-Type: text/plain\r\nDate: ");
            if (Head.Length > MaxHeadLength) throw new InvalidOperationException("the response head outgrew its buffer");
        }

        public byte[] Head { get; }

        public byte[] Body { get; }
    }
}
