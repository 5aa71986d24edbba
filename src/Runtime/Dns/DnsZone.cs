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

    private readonly string? _apex;

    private DnsZone(Dictionary<string, Answers> names, int maxUdpPayload, string? apex, RecordSet authoritySoa)
    {
        _names = names;
        _lookup = names.GetAlternateLookup<ReadOnlySpan<char>>();
        MaxUdpPayload = maxUdpPayload;
        _apex = apex;
        AuthoritySoa = authoritySoa;
    }

    /// <summary>
    /// The zone's SOA record, owned by the apex written out in full, for the authority section of negative answers
    /// (RFC 2308 section 3); empty without a zone.
    /// </summary>
    public RecordSet AuthoritySoa { get; }

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

        var seconds = (uint)ttl.TotalSeconds;
        var apex = string.IsNullOrEmpty(options.Zone) ? null : DnsName.KeyOf(options.Zone, "zone");
        var names = new Dictionary<string, Answers>(StringComparer.Ordinal);
        foreach (var (name, records) in options.Records)
        {
            var optionKey = DnsStaticOptions.RecordKey(name);
            var key = DnsName.KeyOf(name, optionKey);
            if (apex is not null && !IsInZone(key, apex))
                throw new DnsStaticOptionsException(optionKey, $"'{name}' is not in the zone '{options.Zone}'");
            if (!names.TryAdd(key, Compile(records, seconds, optionKey)))
                throw new DnsStaticOptionsException(optionKey, "the name is given twice (names are compared without regard to case)");
        }

        if (apex is null)
            return new DnsZone(names, options.MaxUdpPayload, null, RecordSet.Empty);

        var soa = SoaData(apex, seconds);
        names[apex] = (names.GetValueOrDefault(apex) ?? Answers.None).WithSoa(RecordSet.Build(DnsWire.TypeSoa, seconds, [soa]));
        return new DnsZone(names, options.MaxUdpPayload, apex, RecordSet.Build(DnsWire.TypeSoa, seconds, [soa], owner: Wire(apex)));
    }

    /// <summary>
    /// Whether a name this zone does not hold is still inside it (NXDOMAIN) rather than outside (REFUSED, as an
    /// authoritative server answers for a zone it does not serve). Always true without a zone.
    /// </summary>
    public bool Contains(ReadOnlySpan<char> key) => _apex is null || IsInZone(key, _apex);

    /// <summary>Whether <paramref name="key"/> is <paramref name="apex"/> or below it: the apex is its suffix at a label boundary.</summary>
    private static bool IsInZone(ReadOnlySpan<char> key, string apex)
    {
        var at = 0;
        while (key.Length - at > apex.Length)
            at += key[at] + 1;
        return key[at..].SequenceEqual(apex);
    }

    private static byte[] Wire(string key) => key.Select(c => (byte)c).ToArray();

    /// <summary>MNAME the apex, RNAME hostmaster.apex, serial 1, refresh 1 h, retry 10 min, expire 1 day, minimum the TTL.</summary>
    private static byte[] SoaData(string apex, uint ttl)
    {
        var mname = Wire(apex);
        byte[] rname = [10, .. "hostmaster"u8, .. mname];
        if (rname.Length > DnsWire.MaxNameLength)
            throw new DnsStaticOptionsException("zone", $"'hostmaster.' and the zone are more than {DnsWire.MaxNameLength} bytes, too long for its SOA record");
        var data = new byte[mname.Length + rname.Length + 20];
        mname.CopyTo(data, 0);
        rname.CopyTo(data, mname.Length);
        var numbers = data.AsSpan(mname.Length + rname.Length);
        uint[] values = [1, 3600, 600, 86400, ttl];
        for (var i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteUInt32BigEndian(numbers[(i * 4)..], values[i]);
        return data;
    }

    /// <summary>Finds a name by its lookup key (<see cref="DnsName.KeyOf(ReadOnlySpan{byte}, Span{char})"/>).</summary>
    public Answers? Find(ReadOnlySpan<char> key) => _lookup.TryGetValue(key, out var answers) ? answers : null;

    private static Answers Compile(DnsRecordSet records, uint ttl, string optionKey)
    {
        ArgumentNullException.ThrowIfNull(records);
        var a = RecordSet.Build(DnsWire.TypeA, ttl, records.A.Select(address => AddressData(address, 4, $"{optionKey}.A")));
        var aaaa = RecordSet.Build(DnsWire.TypeAaaa, ttl, records.Aaaa.Select(address => AddressData(address, 16, $"{optionKey}.AAAA")));
        var txt = RecordSet.Build(DnsWire.TypeTxt, ttl, records.Txt.Select((text, i) => TxtData(text, $"{optionKey}.TXT[{i}]")));
        return new Answers(a, aaaa, txt, RecordSet.Empty);
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
    internal sealed class Answers(RecordSet a, RecordSet aaaa, RecordSet txt, RecordSet soa)
    {
        /// <summary>A name with no records of its own (the apex when the records do not list it).</summary>
        public static Answers None { get; } = new(RecordSet.Empty, RecordSet.Empty, RecordSet.Empty, RecordSet.Empty);

        /// <summary>Every record of the name, for a query of type ANY (RFC 1035's "*"): SOA first, then A, AAAA, TXT.</summary>
        private readonly RecordSet _any = RecordSet.Concat(soa, a, aaaa, txt);

        /// <summary>The same answers with <paramref name="zoneSoa"/> as the name's SOA record (the apex's).</summary>
        public Answers WithSoa(RecordSet zoneSoa) => new(a, aaaa, txt, zoneSoa);

        /// <summary>The records of <paramref name="type"/>; empty for any other type.</summary>
        public RecordSet For(ushort type) => type switch
        {
            DnsWire.TypeA => a,
            DnsWire.TypeAaaa => aaaa,
            DnsWire.TypeTxt => txt,
            DnsWire.TypeSoa => soa,
            DnsWire.TypeAny => _any,
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

        /// <summary>The records of <paramref name="sets"/>, one set after the other.</summary>
        public static RecordSet Concat(params RecordSet[] sets)
        {
            var offset = 0;
            var ends = new List<int>();
            foreach (var set in sets)
            {
                ends.AddRange(set.Ends.Select(end => end + offset));
                offset += set.Bytes.Length;
            }

            return ends.Count == 0 ? Empty : new RecordSet(sets.SelectMany(set => set.Bytes).ToArray(), ends.ToArray());
        }

        /// <summary>
        /// Records of <paramref name="type"/>, one per rdata, owned by <paramref name="owner"/> in wire form, or (when
        /// null) by a pointer to the question's name.
        /// </summary>
        public static RecordSet Build(ushort type, uint ttl, IEnumerable<byte[]> rdatas, byte[]? owner = null)
        {
            var bytes = new List<byte>();
            var ends = new List<int>();
            Span<byte> fixedPart = stackalloc byte[10];
            foreach (var rdata in rdatas)
            {
                BinaryPrimitives.WriteUInt16BigEndian(fixedPart, type);
                BinaryPrimitives.WriteUInt16BigEndian(fixedPart[2..], DnsWire.ClassIn);
                BinaryPrimitives.WriteUInt32BigEndian(fixedPart[4..], ttl);
                BinaryPrimitives.WriteUInt16BigEndian(fixedPart[8..], (ushort)rdata.Length);
                bytes.AddRange(owner ?? [DnsWire.PointerToQuestionName >> 8, DnsWire.PointerToQuestionName & 0xFF]);
                bytes.AddRange(fixedPart);
                bytes.AddRange(rdata);
                ends.Add(bytes.Count);
            }

            return ends.Count == 0 ? Empty : new RecordSet(bytes.ToArray(), ends.ToArray());
        }
    }
}
