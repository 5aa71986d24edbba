using System.Buffers.Binary;

namespace ShardRuntime.LoadGen.Protocols;

/// <summary>
/// Echo: request <c>n</c> is <c>payloadBytes</c> bytes, the sequence number (8 bytes, little-endian) followed by a
/// pattern derived from it, so every request of a run is unique; the right reply is the same bytes back.
/// </summary>
internal sealed class EchoCodec(int payloadBytes) : ReplyCodec
{
    public override int MaxRequestBytes => payloadBytes;

    public override int WriteRequest(Span<byte> destination, long sequence)
    {
        Fill(destination[..payloadBytes], sequence);
        return payloadBytes;
    }

    public override bool TryParse(ReadOnlySpan<byte> data, long sequence, bool eof, out ParsedReply reply)
    {
        if (data.Length < payloadBytes)
        {
            reply = default;
            return false;
        }
        var got = data[..payloadBytes];
        bool right = BinaryPrimitives.ReadInt64LittleEndian(got) == sequence && MatchesPattern(got[8..], sequence);
        reply = new ParsedReply(payloadBytes, right ? null : WrongReasons.EchoMismatch, Framed: true, CloseAfter: false, -1, 0);
        return true;
    }

    internal static void Fill(Span<byte> payload, long sequence)
    {
        BinaryPrimitives.WriteInt64LittleEndian(payload, sequence);
        byte seed = (byte)(sequence * 31);
        var rest = payload[8..];
        for (int i = 0; i < rest.Length; i++)
            rest[i] = (byte)(seed + i);
    }

    private static bool MatchesPattern(ReadOnlySpan<byte> rest, long sequence)
    {
        byte seed = (byte)(sequence * 31);
        for (int i = 0; i < rest.Length; i++)
        {
            if (rest[i] != (byte)(seed + i))
                return false;
        }
        return true;
    }
}
