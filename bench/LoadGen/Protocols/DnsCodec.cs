using System.Buffers.Binary;
using System.Net;
using ShardRuntime.LoadGen.Run;

namespace ShardRuntime.LoadGen.Protocols;

/// <summary>
/// DNS over UDP (RFC 1035 wire format): query n of a flow is a standard query (opcode 0, RD set, like dig) with id
/// n mod 65536 and one question (name, type, class IN), no EDNS0. The right reply has QR set, opcode 0, TC clear, the
/// same id and the same question (names compare case-insensitively), the expected RCODE and, when an address is
/// expected, an answer record of the asked type and class IN holding it. The key of a reply is its id.
/// </summary>
internal sealed class DnsCodec : DatagramCodec
{
    private const int HeaderBytes = 12;
    private const ushort ClassIn = 1;
    private const int MaxNameBytes = 255;

    private static readonly string[] RcodeReasons = Enumerable.Range(0, 16).Select(r => "dns-rcode-" + RcodeName(r)).ToArray();

    private readonly byte[] _question;
    private readonly int _nameBytes;
    private readonly ushort _type;
    private readonly int _expectRcode;
    private readonly byte[]? _expectAddress;

    public DnsCodec(string name, DnsQueryType type, int expectRcode, IPAddress? expectAddress)
    {
        var encoded = EncodeName(name);
        _nameBytes = encoded.Length;
        _type = (ushort)type;
        _question = new byte[encoded.Length + 4];
        encoded.CopyTo(_question, 0);
        BinaryPrimitives.WriteUInt16BigEndian(_question.AsSpan(encoded.Length), _type);
        BinaryPrimitives.WriteUInt16BigEndian(_question.AsSpan(encoded.Length + 2), ClassIn);
        _expectRcode = expectRcode;
        _expectAddress = expectAddress?.GetAddressBytes();
    }

    public override int MaxQueryBytes => HeaderBytes + _question.Length;

    public override bool KeyIsFullNumber => false;

    public override int WriteQuery(Span<byte> destination, int flow, long number, long sentAt)
    {
        var header = destination[..HeaderBytes];
        BinaryPrimitives.WriteUInt16BigEndian(header, (ushort)number);
        BinaryPrimitives.WriteUInt16BigEndian(header[2..], 0x0100); // QR 0, opcode 0, RD 1
        BinaryPrimitives.WriteUInt16BigEndian(header[4..], 1); // QDCOUNT
        header[6..].Clear(); // ANCOUNT, NSCOUNT, ARCOUNT
        _question.CopyTo(destination[HeaderBytes..]);
        return HeaderBytes + _question.Length;
    }

    public override bool TryReadKey(ReadOnlySpan<byte> reply, out long key)
    {
        key = reply.Length >= HeaderBytes ? BinaryPrimitives.ReadUInt16BigEndian(reply) : 0;
        return reply.Length >= HeaderBytes;
    }

    public override string? Check(ReadOnlySpan<byte> reply, int flow, long number, long sentAt)
    {
        if (reply.Length < HeaderBytes || BinaryPrimitives.ReadUInt16BigEndian(reply) != (ushort)number)
            return WrongReasons.DnsIdMismatch;
        ushort flags = BinaryPrimitives.ReadUInt16BigEndian(reply[2..]);
        if ((flags & 0x8000) == 0)
            return WrongReasons.DnsNotAResponse;
        if ((flags & 0x7800) != 0)
            return WrongReasons.DnsOpcode;
        if ((flags & 0x0200) != 0)
            return WrongReasons.DnsTruncated;
        int rcode = flags & 0x000F;
        int questions = BinaryPrimitives.ReadUInt16BigEndian(reply[4..]);
        // An error reply may come without the question (FORMERR, REFUSED): its RCODE says more than the missing question.
        if (questions == 0 && rcode != _expectRcode)
            return RcodeReasons[rcode];
        if (questions != 1 || !QuestionMatches(reply[HeaderBytes..]))
            return WrongReasons.DnsQuestionMismatch;
        if (rcode != _expectRcode)
            return RcodeReasons[rcode];
        if (_expectAddress is null)
            return null;
        return FindAnswer(reply, BinaryPrimitives.ReadUInt16BigEndian(reply[6..]));
    }

    private bool QuestionMatches(ReadOnlySpan<byte> section) =>
        section.Length >= _question.Length
        && System.Text.Ascii.EqualsIgnoreCase(section[.._nameBytes], _question.AsSpan(0, _nameBytes))
        && section.Slice(_nameBytes, 4).SequenceEqual(_question.AsSpan(_nameBytes, 4));

    /// <summary>Null when one of the <paramref name="answers"/> records is of the asked type, class IN and holds the expected address.</summary>
    private string? FindAnswer(ReadOnlySpan<byte> reply, int answers)
    {
        int offset = HeaderBytes + _question.Length;
        for (int i = 0; i < answers; i++)
        {
            if (!TrySkipName(reply, ref offset) || offset + 10 > reply.Length)
                return WrongReasons.DnsMalformed;
            ushort type = BinaryPrimitives.ReadUInt16BigEndian(reply[offset..]);
            ushort @class = BinaryPrimitives.ReadUInt16BigEndian(reply[(offset + 2)..]);
            int length = BinaryPrimitives.ReadUInt16BigEndian(reply[(offset + 8)..]);
            offset += 10;
            if (offset + length > reply.Length)
                return WrongReasons.DnsMalformed;
            if (type == _type && @class == ClassIn && reply.Slice(offset, length).SequenceEqual(_expectAddress))
                return null;
            offset += length;
        }
        return WrongReasons.DnsAnswerMissing;
    }

    /// <summary>Moves past a (possibly compressed) name; false when it runs off the end or is malformed.</summary>
    private static bool TrySkipName(ReadOnlySpan<byte> message, ref int offset)
    {
        while (offset < message.Length)
        {
            byte length = message[offset];
            if (length == 0)
            {
                offset++;
                return true;
            }
            if ((length & 0xC0) == 0xC0)
            {
                // A pointer ends the name (RFC 1035 4.1.4).
                offset += 2;
                return offset <= message.Length;
            }
            if ((length & 0xC0) != 0)
                return false;
            offset += 1 + length;
        }
        return false;
    }

    /// <summary>Null when <paramref name="name"/> can be asked for, else why not.</summary>
    internal static string? NameProblem(string name)
    {
        if (name is "." or "")
            return null;
        var trimmed = name.EndsWith('.') ? name[..^1] : name;
        int wire = 1;
        foreach (var label in trimmed.Split('.'))
        {
            if (label.Length is 0 or > 63)
                return "every label must be 1 to 63 characters";
            if (label.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '*')))
                return "labels may hold ASCII letters, digits, '-', '_' and '*' only";
            wire += 1 + label.Length;
        }
        return wire > MaxNameBytes ? $"the name is {wire} bytes on the wire, at most {MaxNameBytes}" : null;
    }

    /// <summary>The wire form of <paramref name="name"/>: length-prefixed labels ending with the root's 0.</summary>
    internal static byte[] EncodeName(string name)
    {
        if (NameProblem(name) is { } problem)
            throw new ArgumentException(problem, nameof(name));
        var trimmed = name.EndsWith('.') ? name[..^1] : name;
        var bytes = new List<byte>();
        if (trimmed.Length > 0)
        {
            foreach (var label in trimmed.Split('.'))
            {
                bytes.Add((byte)label.Length);
                bytes.AddRange(System.Text.Encoding.ASCII.GetBytes(label));
            }
        }
        bytes.Add(0);
        return bytes.ToArray();
    }

    /// <summary>The mnemonic of an RCODE (RFC 1035, 2136), or its number.</summary>
    internal static string RcodeName(int rcode) => rcode switch
    {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        _ => rcode.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>The RCODE named <paramref name="text"/> (a mnemonic or a number 0..15); null when it is neither.</summary>
    internal static int? ParseRcode(string text)
    {
        if (int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int number))
            return number is >= 0 and <= 15 ? number : null;
        for (int r = 0; r < 16; r++)
        {
            if (string.Equals(RcodeName(r), text, StringComparison.OrdinalIgnoreCase))
                return r;
        }
        return null;
    }
}
