using System.Buffers.Binary;

namespace ShardRuntime.Runtime.Dns;

/// <summary>
/// Answers one DNS query from a <see cref="DnsZone"/>: a pure function from the query's bytes to the reply's, with no
/// allocation. The reply echoes the ID, the RD flag and the question (as the client wrote it, case and all); answers
/// are authoritative (AA): the records of the name and type, NOERROR with none for a known name without that type,
/// every record of the name for ANY, NXDOMAIN for an unknown name, each negative answer with the zone's SOA in the authority section when there is a
/// zone, and REFUSED for a name outside the zone. FORMERR for a malformed query, NOTIMP for an opcode other than QUERY, REFUSED for a
/// class other than IN and for zone transfers, BADVERS for EDNS versions above 0. A reply that would exceed 512 bytes
/// (or, when the query has an EDNS0 OPT record, the smaller of its UDP size and the zone's maximum, but never less
/// than 512) carries the answers that fit and the TC flag; a query with OPT gets an OPT back.
/// </summary>
internal static class DnsResponder
{
    /// <summary>The smallest response buffer <see cref="Respond"/> takes: room for a classic reply.</summary>
    public const int MinResponseBuffer = DnsWire.ClassicUdpPayload;

    /// <summary>
    /// Writes the reply to <paramref name="query"/> into <paramref name="response"/> and returns its length, or 0 when
    /// the datagram gets no reply (shorter than an ID, or itself a response). Never throws on any input bytes.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="response"/> is shorter than <see cref="MinResponseBuffer"/>.</exception>
    public static int Respond(ReadOnlySpan<byte> query, Span<byte> response, DnsZone zone)
    {
        if (response.Length < MinResponseBuffer)
            throw new ArgumentException($"A response buffer needs at least {MinResponseBuffer} bytes.", nameof(response));

        switch (DnsQuery.Parse(query, out var parsed))
        {
            case DnsQueryOutcome.Ignore:
                return 0;
            case DnsQueryOutcome.FormatError:
                return WriteHeader(response, parsed, DnsWire.RcodeFormErr, authoritative: false, opcode: 0);
            case DnsQueryOutcome.NotImplemented:
                return WriteHeader(response, parsed, DnsWire.RcodeNotImp, authoritative: false, opcode: parsed.Opcode);
        }

        var limit = Math.Min(response.Length, parsed.HasOpt
            ? Math.Clamp((int)parsed.UdpPayload, DnsWire.ClassicUdpPayload, zone.MaxUdpPayload)
            : DnsWire.ClassicUdpPayload);
        if (parsed.EdnsVersion != 0)
            return WithOpt(response, WithQuestion(query, response, parsed, 0, authoritative: false), parsed, DnsWire.ExtendedRcodeBadVersUpper, zone);
        if (parsed.QClass != DnsWire.ClassIn || parsed.QType is DnsWire.TypeAxfr or DnsWire.TypeIxfr)
            return WithOpt(response, WithQuestion(query, response, parsed, DnsWire.RcodeRefused, authoritative: false), parsed, 0, zone);

        var name = query[DnsWire.HeaderLength..parsed.NameEnd];
        Span<char> key = stackalloc char[DnsWire.MaxNameLength];
        DnsName.KeyOf(name, key);
        var answers = zone.Find(key[..name.Length]);
        if (answers is null && !zone.Contains(key[..name.Length]))
            return WithOpt(response, WithQuestion(query, response, parsed, DnsWire.RcodeRefused, authoritative: false), parsed, 0, zone);

        var length = WithQuestion(query, response, parsed, answers is null ? DnsWire.RcodeNxDomain : DnsWire.RcodeNoError, authoritative: true);
        var room = limit - (parsed.HasOpt ? DnsWire.OptRecordLength : 0);
        var records = answers?.For(parsed.QType) ?? DnsZone.RecordSet.Empty;
        length = AddRecords(response, length, records, room, countAt: 6);
        if (records.Count == 0)
            length = AddRecords(response, length, zone.AuthoritySoa, room, countAt: 8); // negative answer: the SOA for caching it
        return WithOpt(response, length, parsed, 0, zone);
    }

    /// <summary>The header and the question echoed.</summary>
    private static int WithQuestion(ReadOnlySpan<byte> query, Span<byte> response, DnsQuery parsed, int rcode, bool authoritative)
    {
        WriteHeader(response, parsed, rcode, authoritative, opcode: 0);
        DnsWire.WriteUInt16(response, 4, 1);
        var question = query[DnsWire.HeaderLength..parsed.QuestionEnd];
        question.CopyTo(response[DnsWire.HeaderLength..]);
        return DnsWire.HeaderLength + question.Length;
    }

    /// <summary>
    /// The records that fit in <paramref name="room"/> bytes of reply, in order, counted in the header's 16-bit field
    /// at <paramref name="countAt"/>; TC when not all do.
    /// </summary>
    private static int AddRecords(Span<byte> response, int length, DnsZone.RecordSet records, int room, int countAt)
    {
        var start = 0;
        var count = 0;
        for (; count < records.Count; count++)
        {
            var end = records.Ends[count];
            if (length + end - start > room)
            {
                // Truncated (RFC 1035 section 4.1.1, RFC 2181 section 9): the records that fit, and TC set.
                response[2] |= DnsWire.FlagTc;
                break;
            }

            records.Bytes.AsSpan(start, end - start).CopyTo(response[length..]);
            length += end - start;
            start = end;
        }

        DnsWire.WriteUInt16(response, countAt, count);
        return length;
    }

    private static int WriteHeader(Span<byte> response, DnsQuery parsed, int rcode, bool authoritative, int opcode)
    {
        response[..DnsWire.HeaderLength].Clear();
        DnsWire.WriteUInt16(response, 0, parsed.Id);
        response[2] = (byte)(DnsWire.FlagQr | (opcode << 3) | (authoritative ? DnsWire.FlagAa : 0) | (parsed.Flags & DnsWire.FlagRd));
        response[3] = (byte)rcode;
        return DnsWire.HeaderLength;
    }

    /// <summary>
    /// When the query had an OPT record: an OPT record (RFC 6891 section 6.1.2) offering the zone's UDP size, with no
    /// options, counted in ARCOUNT.
    /// </summary>
    private static int WithOpt(Span<byte> response, int length, DnsQuery parsed, int extendedRcode, DnsZone zone)
    {
        if (!parsed.HasOpt)
            return length;
        var opt = response.Slice(length, DnsWire.OptRecordLength);
        opt[0] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(opt[1..], DnsWire.TypeOpt);
        BinaryPrimitives.WriteUInt16BigEndian(opt[3..], (ushort)zone.MaxUdpPayload);
        BinaryPrimitives.WriteUInt32BigEndian(opt[5..], (uint)extendedRcode << 24);
        BinaryPrimitives.WriteUInt16BigEndian(opt[9..], 0);
        DnsWire.WriteUInt16(response, 10, 1);
        return length + DnsWire.OptRecordLength;
    }
}
