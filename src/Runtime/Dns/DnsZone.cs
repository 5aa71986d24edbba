using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace ShardRuntime.Runtime.Dns;

/// <summary>
/// A <c>dns-static</c> zone compiled for answering: per name and type, the answer records already in wire form (owner
/// name a pointer to the question's name, class IN, the TTL), so a reply is copies of bytes and nothing else.
/// Immutable and thread-safe; built once per handler generation.
/// </summary>
internal sealed class DnsZone
{
    private readonly Dictionary<string, Answers> _names;
    private readonly Dictionary<string, Answers>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    private DnsZone(Dictionary<string, Answers> names, int maxUdpPayload)
    {
        _names = names;
        _lookup = names.GetAlternateLookup<ReadOnlySpan<char>>();
        MaxUdpPayload = maxUdpPayload;
    }

    /// <summary>The largest reply to an EDNS0 query, as configured.</summary>
    public int MaxUdpPayload { get; }

    /// <summary>The number of names the zone holds.</summary>
    public int NameCount => _names.Count;

    /// <summary>Validates <paramref name="options"/> and compiles them.</summary>
    /// <exception cref="DnsStaticOptionsException">An option is invalid; names it.</exception>
    public static DnsZone Compile(DnsStaticOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var ttl = options.Ttl;
        if (ttl < TimeSpan.Zero || ttl.Ticks % TimeSpan.TicksPerSecond != 0 || ttl.TotalSeconds > int.MaxValue)
            throw new DnsStaticOptionsException("ttl", $"{ttl} is not a whole number of seconds from 0 to {int.MaxValue}");
        if (options.MaxUdpPayload is < DnsWire.ClassicUdpPayload or > DnsWire.MaxUdpPayload)
            throw new DnsStaticOptionsException("max-udp-payload", $"{options.MaxUdpPayload} is outside {DnsWire.ClassicUdpPayload} to {DnsWire.MaxUdpPayload}");
        ArgumentNullException.ThrowIfNull(options.Records);

        var names = new Dictionary<string, Answers>(StringComparer.Ordinal);
        foreach (var (name, records) in options.Records)
        {
            var optionKey = DnsStaticOptions.RecordKey(name);
            var key = DnsName.KeyOf(name, optionKey);
            var answers = Compile(records, (uint)ttl.TotalSeconds, optionKey);
            if (!names.TryAdd(key, answers))
                throw new DnsStaticOptionsException(optionKey, "the name is given twice (names are compared without regard to case)");
        }

        return new DnsZone(names, options.MaxUdpPayload);
    }

    /// <summary>Finds a name by its lookup key (<see cref="DnsName.KeyOf(ReadOnlySpan{byte}, Span{char})"/>).</summary>
    public Answers? Find(ReadOnlySpan<char> key) => _lookup.TryGetValue(key, out var answers) ? answers : null;

    private static Answers Compile(DnsRecordSet records, uint ttl, string optionKey)
    {
        ArgumentNullException.ThrowIfNull(records);
        var a = RecordSet.Build(DnsWire.TypeA, ttl, records.A.Select(address => AddressData(address, 4, $"{optionKey}.A")));
        var aaaa = RecordSet.Build(DnsWire.TypeAaaa, ttl, records.Aaaa.Select(address => AddressData(address, 16, $"{optionKey}.AAAA")));
        var txt = RecordSet.Build(DnsWire.TypeTxt, ttl, records.Txt.Select((text, i) => TxtData(text, $"{optionKey}.TXT[{i}]")));
        return new Answers(a, aaaa, txt);
    }

    private static byte[] AddressData(IPAddress address, int length, string optionKey)
    {
        var bytes = address.GetAddressBytes();
        if (bytes.Length != length)
            throw new DnsStaticOptionsException(optionKey, $"{address} is not an IPv{(length == 4 ? 4 : 6)} address");
        return bytes;
    }

    private static byte[] TxtData(string text, string optionKey)
    {
        // One record; its text in character-strings of at most 255 bytes each (an empty text is one empty string).
        var utf8 = Encoding.UTF8.GetBytes(text);
        var strings = Math.Max(1, (utf8.Length + DnsWire.MaxCharacterStringLength - 1) / DnsWire.MaxCharacterStringLength);
        var data = new byte[utf8.Length + strings];
        if (data.Length > ushort.MaxValue)
            throw new DnsStaticOptionsException(optionKey, $"the text is {utf8.Length} bytes in UTF-8; a TXT record holds less than 65,280");
        for (int s = 0, at = 0; s < strings; s++)
        {
            var chunk = utf8.AsSpan(s * DnsWire.MaxCharacterStringLength, Math.Min(DnsWire.MaxCharacterStringLength, utf8.Length - s * DnsWire.MaxCharacterStringLength));
            data[at++] = (byte)chunk.Length;
            chunk.CopyTo(data.AsSpan(at));
            at += chunk.Length;
        }

        return data;
    }

    /// <summary>The answers of one name, by the types it can have.</summary>
    internal sealed record Answers(RecordSet A, RecordSet Aaaa, RecordSet Txt)
    {
        /// <summary>The records of <paramref name="type"/>; empty for any other type.</summary>
        public RecordSet For(ushort type) => type switch
        {
            DnsWire.TypeA => A,
            DnsWire.TypeAaaa => Aaaa,
            DnsWire.TypeTxt => Txt,
            _ => RecordSet.Empty,
        };
    }

    /// <summary>Resource records of one type in wire form, one after another; <see cref="Ends"/> has each one's end.</summary>
    internal sealed class RecordSet
    {
        private RecordSet(byte[] bytes, int[] ends)
        {
            Bytes = bytes;
            Ends = ends;
        }

        public static RecordSet Empty { get; } = new([], []);

        public byte[] Bytes { get; }

        public int[] Ends { get; }

        public int Count => Ends.Length;

        public static RecordSet Build(ushort type, uint ttl, IEnumerable<byte[]> rdatas)
        {
            var bytes = new List<byte>();
            var ends = new List<int>();
            Span<byte> fixedPart = stackalloc byte[12];
            foreach (var rdata in rdatas)
            {
                BinaryPrimitives.WriteUInt16BigEndian(fixedPart, DnsWire.PointerToQuestionName);
                BinaryPrimitives.WriteUInt16BigEndian(fixedPart[2..], type);
                BinaryPrimitives.WriteUInt16BigEndian(fixedPart[4..], DnsWire.ClassIn);
                BinaryPrimitives.WriteUInt32BigEndian(fixedPart[6..], ttl);
                BinaryPrimitives.WriteUInt16BigEndian(fixedPart[10..], (ushort)rdata.Length);
                bytes.AddRange(fixedPart);
                bytes.AddRange(rdata);
                ends.Add(bytes.Count);
            }

            return ends.Count == 0 ? Empty : new RecordSet(bytes.ToArray(), ends.ToArray());
        }
    }
}
