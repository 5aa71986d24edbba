using ShardRuntime.Runtime.Connections;
using ShardRuntime.Runtime.Handlers;
using ShardRuntime.Runtime.Tests.Handlers;

namespace ShardRuntime.Fuzz;

/// <summary>
/// The http-ok handler as a connection drives it: the input is what the client sends. It is fed whole to one handler
/// and in chunks to another (a chunk size taken from the input's length, so both one-byte and larger splits occur);
/// both must consume within bounds and answer with the same bytes. Any exception is a finding: the handler never throws.
/// </summary>
internal static class HttpOkTarget
{
    /// <summary>A small head limit, so that short inputs reach the 431 paths too.</summary>
    private const int MaxHeadSize = 4 * HttpOkHandler.MinRequestHeadSize;

    public static void Run(byte[] input)
    {
        var whole = Drive(input, input.Length);
        var chunked = Drive(input, 1 + (input.Length % 7));
        if (!SameResponses(whole.Written, chunked.Written))
        {
            // The Date header may have turned to the next second between the two runs: then both are driven again.
            whole = Drive(input, input.Length);
            chunked = Drive(input, 1 + (input.Length % 7));
            if (!SameResponses(whole.Written, chunked.Written))
            {
                throw new InvalidOperationException(
                    $"fed whole it answered {whole.WrittenText.Length} bytes, in chunks {chunked.WrittenText.Length}: {whole.WrittenText} | {chunked.WrittenText}");
            }
        }

        if (whole.CloseCount != chunked.CloseCount)
        {
            throw new InvalidOperationException($"fed whole it closed {whole.CloseCount} time(s), in chunks {chunked.CloseCount}");
        }
    }

    /// <summary>Feeds <paramref name="input"/> in chunks of <paramref name="chunk"/> bytes, presenting unconsumed bytes again as the connection does.</summary>
    private static FakeConnectionContext Drive(byte[] input, int chunk)
    {
        IConnectionHandler handler = new HttpOkHandler(MaxHeadSize);
        var context = new FakeConnectionContext(capacity: 64 * 1024 + (input.Length * 256));
        handler.OnConnected(context);
        var pending = new List<byte>();
        for (var offset = 0; offset < input.Length && !context.IsClosing; offset += chunk)
        {
            pending.AddRange(input.AsSpan(offset, Math.Min(chunk, input.Length - offset)));
            var data = pending.ToArray();
            var consumed = handler.OnReceived(context, data);
            if (consumed < 0 || consumed > data.Length)
            {
                throw new InvalidOperationException($"OnReceived consumed {consumed} of {data.Length} bytes");
            }

            pending.RemoveRange(0, consumed);
        }

        if (!context.IsClosing)
        {
            handler.OnInputEnded(context, pending.Count);
        }

        return context;
    }

    /// <summary>The same bytes, but for the Date values (each one <see cref="HttpDate.Length"/> bytes after <c>Date: </c>).</summary>
    private static bool SameResponses(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        if (a.Length != b.Length)
        {
            return false;
        }

        var date = "\r\nDate: "u8;
        while (true)
        {
            var at = a.IndexOf(date);
            if (at < 0 || b.IndexOf(date) != at)
            {
                return a.SequenceEqual(b);
            }

            var skip = at + date.Length + HttpDate.Length;
            if (!a[..at].SequenceEqual(b[..at]) || skip > a.Length)
            {
                return false;
            }

            a = a[skip..];
            b = b[skip..];
        }
    }
}
