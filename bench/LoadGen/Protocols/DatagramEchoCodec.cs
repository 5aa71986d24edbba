using System.Buffers.Binary;

namespace ShardRuntime.LoadGen.Protocols;

/// <summary>
/// UDP echo: query n of a flow is <c>payloadBytes</c> bytes: n (8 bytes, little-endian), its send time (Stopwatch
/// ticks, 8 bytes, little-endian), then a pattern derived from n and the flow, so every query of a run is unique. The
/// right reply is the same bytes back, byte for byte. The key of a reply is all of n.
/// </summary>
internal sealed class DatagramEchoCodec(int payloadBytes) : DatagramCodec
{
    private const int HeaderBytes = 16;

    public override int MaxQueryBytes => payloadBytes;

    public override bool KeyIsFullNumber => true;

    public override int WriteQuery(Span<byte> destination, int flow, long number, long sentAt)
    {
        var payload = destination[..payloadBytes];
        BinaryPrimitives.WriteInt64LittleEndian(payload, number);
        BinaryPrimitives.WriteInt64LittleEndian(payload[8..], sentAt);
        byte seed = Seed(flow, number);
        var rest = payload[HeaderBytes..];
        for (int i = 0; i < rest.Length; i++)
            rest[i] = (byte)(seed + i);
        return payloadBytes;
    }

    public override bool TryReadKey(ReadOnlySpan<byte> reply, out long key)
    {
        key = reply.Length >= 8 ? BinaryPrimitives.ReadInt64LittleEndian(reply) : 0;
        return reply.Length >= 8;
    }

    public override string? Check(ReadOnlySpan<byte> reply, int flow, long number, long sentAt)
    {
        if (reply.Length != payloadBytes
            || BinaryPrimitives.ReadInt64LittleEndian(reply) != number
            || BinaryPrimitives.ReadInt64LittleEndian(reply[8..]) != sentAt)
            return WrongReasons.EchoMismatch;
        byte seed = Seed(flow, number);
        var rest = reply[HeaderBytes..];
        for (int i = 0; i < rest.Length; i++)
        {
            if (rest[i] != (byte)(seed + i))
                return WrongReasons.EchoMismatch;
        }
        return null;
    }

    private static byte Seed(int flow, long number) => (byte)(number * 31 + flow * 7);
}
