namespace ShardRuntime.Runtime.Dns;

/// <summary>What <see cref="DnsQuery.Parse"/> made of a datagram.</summary>
internal enum DnsQueryOutcome
{
    /// <summary>Nothing to answer: shorter than an ID, or a response (QR set; answering it could start a loop).</summary>
    Ignore,
    /// <summary>Malformed: truncated, a bad label, a compression pointer loop or out of place, QDCOUNT not 1, two OPTs.</summary>
    FormatError,
    /// <summary>An opcode other than QUERY.</summary>
    NotImplemented,
    /// <summary>A well-formed standard query with one question.</summary>
    Query,
}

/// <summary>
/// A DNS query as far as a responder needs it: header fields, where the question lies in the message, and the EDNS0
/// OPT record if any. A view over offsets: the message itself is not copied.
/// </summary>
internal readonly record struct DnsQuery(
    ushort Id,
    byte Flags,
    int NameEnd,
    ushort QType,
    ushort QClass,
    bool HasOpt,
    ushort UdpPayload,
    byte EdnsVersion)
{
    /// <summary>The offset just after the question (name, QTYPE, QCLASS), which starts at offset 12.</summary>
    public int QuestionEnd => NameEnd + 4;

    /// <summary>The opcode (RFC 1035 section 4.1.1: bits 1-4 of the third byte).</summary>
    public int Opcode => (Flags >> 3) & 0xF;

    /// <summary>Whether the query asked for recursion (RD), which the reply copies.</summary>
    public bool RecursionDesired => (Flags & DnsWire.FlagRd) != 0;

    /// <summary>
    /// Parses <paramref name="message"/>. On every outcome but <see cref="DnsQueryOutcome.Ignore"/>, <paramref name="query"/>
    /// has the ID and flags; on <see cref="DnsQueryOutcome.Query"/> also the question and the OPT record. Never throws.
    /// </summary>
    public static DnsQueryOutcome Parse(ReadOnlySpan<byte> message, out DnsQuery query)
    {
        query = default;
        if (message.Length < 2 || (message.Length >= 3 && (message[2] & DnsWire.FlagQr) != 0))
            return DnsQueryOutcome.Ignore;

        var id = DnsWire.ReadUInt16(message, 0);
        var flags = message.Length >= 3 ? message[2] : (byte)0;
        query = new DnsQuery(id, flags, 0, 0, 0, false, 0, 0);
        if (message.Length < DnsWire.HeaderLength)
            return DnsQueryOutcome.FormatError;
        if (query.Opcode != 0)
            return DnsQueryOutcome.NotImplemented;
        if (DnsWire.ReadUInt16(message, 4) != 1)
            return DnsQueryOutcome.FormatError;

        var at = DnsWire.HeaderLength;
        if (!TrySkipName(message, ref at, allowPointers: false) || at + 4 > message.Length)
            return DnsQueryOutcome.FormatError;

        var nameEnd = at;
        var qtype = DnsWire.ReadUInt16(message, at);
        var qclass = DnsWire.ReadUInt16(message, at + 2);
        at += 4;
        var opt = new OptRecord();
        if (!TrySkipRecords(message, ref at, DnsWire.ReadUInt16(message, 6) + DnsWire.ReadUInt16(message, 8), ref opt, isAdditional: false)
            || !TrySkipRecords(message, ref at, DnsWire.ReadUInt16(message, 10), ref opt, isAdditional: true))
            return DnsQueryOutcome.FormatError;

        query = new DnsQuery(id, flags, nameEnd, qtype, qclass, opt.Present, opt.UdpPayload, opt.Version);
        return DnsQueryOutcome.Query;
    }

    /// <summary>Skips <paramref name="count"/> resource records, noting the OPT record of the additional section.</summary>
    private static bool TrySkipRecords(ReadOnlySpan<byte> message, ref int at, int count, ref OptRecord opt, bool isAdditional)
    {
        for (var i = 0; i < count; i++)
        {
            var nameStart = at;
            if (!TrySkipName(message, ref at, allowPointers: true) || at + 10 > message.Length)
                return false;
            var type = DnsWire.ReadUInt16(message, at);
            var dataEnd = at + 10 + DnsWire.ReadUInt16(message, at + 8);
            if (dataEnd > message.Length)
                return false;
            if (type == DnsWire.TypeOpt)
            {
                // RFC 6891 section 6.1.1: one OPT at most, in the additional section, owned by the root.
                if (!isAdditional || opt.Present || at != nameStart + 1)
                    return false;
                opt = new OptRecord(true, DnsWire.ReadUInt16(message, at + 2), message[at + 5]);
            }

            at = dataEnd;
        }

        return true;
    }

    /// <summary>
    /// Skips a name that may end in a compression pointer, and checks where the pointers lead: each must point before
    /// everything read of the name so far (so a chain cannot loop), and the whole name must be well formed. The
    /// question's name starts at offset 12 with nothing before it to point to, so there (<paramref name="allowPointers"/>
    /// false) a pointer is a format error too. Reserved label types (0x40, 0x80) are format errors everywhere.
    /// </summary>
    private static bool TrySkipName(ReadOnlySpan<byte> message, ref int at, bool allowPointers)
    {
        var position = at;
        var limit = at;
        var length = 0;
        var end = -1;
        while (position < message.Length)
        {
            var label = message[position];
            if (label == 0)
            {
                at = end >= 0 ? end : position + 1;
                return true;
            }

            if ((label & 0xC0) == 0xC0)
            {
                if (!allowPointers || position + 1 >= message.Length)
                    return false;
                var target = ((label & 0x3F) << 8) | message[position + 1];
                if (end < 0)
                    end = position + 2;
                if (target >= limit)
                    return false;
                limit = position = target;
                continue;
            }

            if (label > DnsWire.MaxLabelLength || position + 1 + label > message.Length)
                return false;
            length += label + 1;
            if (length + 1 > DnsWire.MaxNameLength)
                return false;
            position += label + 1;
        }

        return false;
    }

    private readonly record struct OptRecord(bool Present, ushort UdpPayload, byte Version);
}
