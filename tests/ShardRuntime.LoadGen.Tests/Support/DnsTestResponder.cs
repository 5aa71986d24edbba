using System.Buffers.Binary;
using System.Net;

namespace ShardRuntime.LoadGen.Tests.Support;

/// <summary>
/// A tiny DNS responder for the specs (RFC 1035 wire format): it answers a query with the query's id and question,
/// QR and AA set, RD copied, the given RCODE and, for NOERROR, one answer record whose owner is a compression
/// pointer to the question's name, of the question's type, class IN, TTL 60, holding <c>address</c>.
/// </summary>
internal static class DnsTestResponder
{
    /// <summary>The reply to <paramref name="query"/>; empty when it is not a query with one question.</summary>
    public static byte[] Answer(byte[] query, IPAddress address, int rcode = 0)
    {
        if (query.Length < 12 || (query[2] & 0x80) != 0 || BinaryPrimitives.ReadUInt16BigEndian(query.AsSpan(4)) != 1)
            return [];
        int end = 12;
        while (end < query.Length && query[end] != 0)
            end += 1 + query[end];
        end += 1 + 4; // the root label, QTYPE, QCLASS
        if (end > query.Length)
            return [];
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(query.AsSpan(end - 4));
        var data = address.GetAddressBytes();
        bool answer = rcode == 0;
        var reply = new byte[end + (answer ? 12 + data.Length : 0)];
        query.AsSpan(0, end).CopyTo(reply);
        reply[2] = (byte)(0x84 | (query[2] & 0x01)); // QR, AA, RD copied
        reply[3] = (byte)rcode;
        BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(6), (ushort)(answer ? 1 : 0));
        reply.AsSpan(8, 4).Clear();
        if (answer)
        {
            var record = reply.AsSpan(end);
            BinaryPrimitives.WriteUInt16BigEndian(record, 0xC00C);
            BinaryPrimitives.WriteUInt16BigEndian(record[2..], type);
            BinaryPrimitives.WriteUInt16BigEndian(record[4..], 1);
            BinaryPrimitives.WriteUInt32BigEndian(record[6..], 60);
            BinaryPrimitives.WriteUInt16BigEndian(record[10..], (ushort)data.Length);
            data.CopyTo(record[12..]);
        }
        return reply;
    }
}
