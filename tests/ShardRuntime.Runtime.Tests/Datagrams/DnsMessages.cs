using System.Buffers.Binary;
using System.Text;

namespace ShardRuntime.Runtime.Tests.Datagrams;

/// <summary>Builds DNS queries and reads replies for the tests, independently of the code under test.</summary>
internal static class DnsMessages
{
    public const ushort A = 1, Soa = 6, Txt = 16, Aaaa = 28, Mx = 15, In = 1, Ch = 3;

    /// <summary>A query: header (RD set), one question, and an OPT record when <paramref name="ednsSize"/> is given.</summary>
    public static byte[] Query(string name, ushort type, ushort qclass = In, ushort id = 0x1234, ushort? ednsSize = null, byte ednsVersion = 0, int opcode = 0)
    {
        var bytes = new List<byte>();
        void U16(int v) { bytes.Add((byte)(v >> 8)); bytes.Add((byte)v); }
        U16(id);
        bytes.Add((byte)((opcode << 3) | 0x01));
        bytes.Add(0);
        U16(1); U16(0); U16(0); U16(ednsSize is null ? 0 : 1);
        bytes.AddRange(Name(name));
        U16(type); U16(qclass);
        if (ednsSize is { } size)
        {
            bytes.Add(0); U16(41); U16(size);
            bytes.Add(0); bytes.Add(ednsVersion); U16(0);
            U16(0);
        }

        return bytes.ToArray();
    }

    public static byte[] Name(string name)
    {
        var bytes = new List<byte>();
        foreach (var label in name.TrimEnd('.').Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            bytes.Add((byte)label.Length);
            bytes.AddRange(Encoding.ASCII.GetBytes(label));
        }

        bytes.Add(0);
        return bytes.ToArray();
    }

    /// <summary>A reply as the tests look at it.</summary>
    public sealed record Reply(
        ushort Id, bool Qr, int Opcode, bool Aa, bool Tc, bool Rd, int Rcode,
        int QdCount, byte[] Question, IReadOnlyList<Record> Answers, IReadOnlyList<Record> Authority, Record? Opt, int Length);

    public sealed record Record(ushort Type, ushort Class, uint Ttl, byte[] Data);

    /// <summary>Reads a reply whose answer names are pointers to the question (as ours are) or plain names.</summary>
    public static Reply Read(ReadOnlySpan<byte> m)
    {
        var id = BinaryPrimitives.ReadUInt16BigEndian(m);
        int qd = BinaryPrimitives.ReadUInt16BigEndian(m[4..]), an = BinaryPrimitives.ReadUInt16BigEndian(m[6..]),
            ns = BinaryPrimitives.ReadUInt16BigEndian(m[8..]), ar = BinaryPrimitives.ReadUInt16BigEndian(m[10..]);
        var at = 12;
        for (var i = 0; i < qd; i++)
            at = SkipName(m, at) + 4;
        var question = m[12..at].ToArray();
        var answers = new List<Record>();
        var authority = new List<Record>();
        Record? opt = null;
        for (var i = 0; i < an + ns + ar; i++)
        {
            at = SkipName(m, at);
            var record = new Record(
                BinaryPrimitives.ReadUInt16BigEndian(m[at..]), BinaryPrimitives.ReadUInt16BigEndian(m[(at + 2)..]),
                BinaryPrimitives.ReadUInt32BigEndian(m[(at + 4)..]), m.Slice(at + 10, BinaryPrimitives.ReadUInt16BigEndian(m[(at + 8)..])).ToArray());
            at += 10 + record.Data.Length;
            if (i < an) answers.Add(record);
            else if (i < an + ns) authority.Add(record);
            else if (record.Type == 41) opt = record;
        }

        Assert.Equal(m.Length, at);
        return new Reply(id, (m[2] & 0x80) != 0, (m[2] >> 3) & 0xF, (m[2] & 0x04) != 0, (m[2] & 0x02) != 0, (m[2] & 0x01) != 0,
            m[3] & 0xF, qd, question, answers, authority, opt, m.Length);
    }

    private static int SkipName(ReadOnlySpan<byte> m, int at)
    {
        while (m[at] != 0)
        {
            if ((m[at] & 0xC0) == 0xC0) return at + 2;
            at += m[at] + 1;
        }

        return at + 1;
    }
}
