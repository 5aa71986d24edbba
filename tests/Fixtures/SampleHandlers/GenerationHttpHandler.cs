using System.Buffers.Text;
using ShardRuntime.Runtime.Connections;

namespace SampleHandlers;

/// <summary>
/// A minimal HTTP/1.1 responder that tells which code answered: every reply carries
/// <c>X-Handler-Generation</c> (the connection's handler generation) and <c>X-Sample-Version</c> (v1 or v2, the
/// build), with body <c>OK</c>. Requests have no body; pipelined requests are answered in order. Used by the
/// end-to-end reload proof.
/// </summary>
public sealed class GenerationHttpHandler : IConnectionHandler
{
    private static readonly byte[] HeadEnd = "\r\n\r\n"u8.ToArray();

    /// <inheritdoc />
    public int OnReceived(IConnectionContext context, ReadOnlySpan<byte> data)
    {
        var consumed = 0;
        while (true)
        {
            var end = data[consumed..].IndexOf(HeadEnd);
            if (end < 0) return consumed;
            consumed += end + HeadEnd.Length;
            Reply(context);
        }
    }

    private static void Reply(IConnectionContext context)
    {
        Span<byte> reply = stackalloc byte[160];
        var n = 0;
        Append(reply, ref n, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nX-Sample-Version: "u8);
        Append(reply, ref n, SampleVersion.Text == "v1" ? "v1"u8 : "v2"u8);
        Append(reply, ref n, "\r\nX-Handler-Generation: "u8);
        Utf8Formatter.TryFormat(context.HandlerGeneration, reply[n..], out var written);
        n += written;
        Append(reply, ref n, "\r\n\r\nOK"u8);
        context.Write(reply[..n]);
    }

    private static void Append(Span<byte> into, ref int at, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(into[at..]);
        at += bytes.Length;
    }
}
