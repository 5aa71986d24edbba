using System.Buffers.Binary;

namespace ShardRuntime.Runtime.Dns;

/// <summary>Numbers of the DNS wire format (RFC 1035 section 4, RFC 3596 for AAAA, RFC 6891 for EDNS0's OPT).</summary>
internal static class DnsWire
{
    public const int HeaderLength = 12;
    public const int MaxNameLength = 255;
    public const int MaxLabelLength = 63;
    public const int MaxCharacterStringLength = 255;

    /// <summary>The largest reply to a query without EDNS0 (RFC 1035 section 4.2.1); a longer one is truncated (TC).</summary>
    public const int ClassicUdpPayload = 512;

    /// <summary>The largest UDP payload a datagram can carry (65,535 minus the IPv4 and UDP headers).</summary>
    public const int MaxUdpPayload = 65_507;

    public const ushort TypeA = 1;
    public const ushort TypeSoa = 6;
    public const ushort TypeTxt = 16;
    public const ushort TypeAaaa = 28;
    public const ushort TypeOpt = 41;
    public const ushort TypeIxfr = 251;
    public const ushort TypeAxfr = 252;
    public const ushort TypeAny = 255;
    public const ushort ClassIn = 1;

    public const int RcodeNoError = 0;
    public const int RcodeFormErr = 1;
    public const int RcodeNxDomain = 3;
    public const int RcodeNotImp = 4;
    public const int RcodeRefused = 5;

    /// <summary>Extended RCODE 16 (BADVERS, RFC 6891 section 6.1.3): its upper 8 bits go in the OPT record's TTL.</summary>
    public const int ExtendedRcodeBadVersUpper = 1;

    /// <summary>An answer's owner name as a compression pointer to the question's name, which always starts at offset 12.</summary>
    public const ushort PointerToQuestionName = 0xC000 | HeaderLength;

    /// <summary>Length of an OPT record with no options: root name, type, class, TTL, RDLENGTH.</summary>
    public const int OptRecordLength = 11;

    public const byte FlagQr = 0x80;
    public const byte FlagAa = 0x04;
    public const byte FlagTc = 0x02;
    public const byte FlagRd = 0x01;

    public static ushort ReadUInt16(ReadOnlySpan<byte> data, int at) => BinaryPrimitives.ReadUInt16BigEndian(data[at..]);

    public static void WriteUInt16(Span<byte> data, int at, int value) => BinaryPrimitives.WriteUInt16BigEndian(data[at..], (ushort)value);
}
