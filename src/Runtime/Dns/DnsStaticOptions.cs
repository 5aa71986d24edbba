using System.Net;
using System.Net.Sockets;

namespace ShardRuntime.Runtime.Dns;

/// <summary>
/// What a <c>dns-static</c> handler serves. In a listener's HOCON (the keys below are relative to that block):
/// <code>
/// dns-static {
///   zone = "shardruntime.test."  # the zone apex; "" for none
///   ttl = 300s                # TTL of every record (whole seconds)
///   max-udp-payload = 1232    # largest reply to a query with EDNS0 (512 without EDNS0); 512..65507
///   records {
///     "localhost.shardruntime.test." { A = ["127.0.0.1"], AAAA = ["::1"], TXT = ["hello"] }
///   }
/// }
/// </code>
/// Names are absolute (a missing final dot is implied), ASCII, compared without regard to case; a name with no
/// records (<c>"x.test." {}</c>) exists and answers NOERROR with no data. The record types are A, AAAA and TXT.
/// With a <see cref="Zone"/>, every name must lie in it, queries for names outside it are REFUSED (this server is
/// not authoritative for them), and negative answers carry the zone's SOA record (RFC 2308) so resolvers can cache
/// them; without one, every name not listed is NXDOMAIN and negative answers carry no SOA.
/// Validated when the handler's factory is created: an invalid option throws <see cref="DnsStaticOptionsException"/>
/// naming it.
/// </summary>
public sealed record DnsStaticOptions
{
    /// <summary>The record types a name's block may hold, as spelt in configuration.</summary>
    public static IReadOnlyList<string> RecordTypes { get; } = ["A", "AAAA", "TXT"];

    /// <summary>
    /// The zone apex (for example <c>shardruntime.test.</c>), or null (or empty) for none. The apex answers SOA queries with
    /// a record made from it: MNAME the apex, RNAME <c>hostmaster.</c> and the apex, serial 1, refresh 3600, retry 600,
    /// expire 86400, and the TTL as TTL and negative-caching minimum.
    /// </summary>
    public string? Zone { get; init; }

    /// <summary>TTL of every record, in whole seconds (0 to 2^31-1 s).</summary>
    public required TimeSpan Ttl { get; init; }

    /// <summary>
    /// The largest reply sent to a query that carries EDNS0 (and asks for at least that much); the OPT record of every
    /// reply to such a query offers this size. Queries without EDNS0 get at most 512 bytes. 512 to 65,507.
    /// </summary>
    public required int MaxUdpPayload { get; init; }

    /// <summary>The names the handler is authoritative for, with their records; every other name is NXDOMAIN.</summary>
    public required IReadOnlyDictionary<string, DnsRecordSet> Records { get; init; }

    /// <summary>
    /// Options from configuration text: per name, per record type (<see cref="RecordTypes"/>, any case), the values as
    /// written (dotted-quad IPv4 for A, IPv6 for AAAA, any text for TXT).
    /// </summary>
    /// <exception cref="DnsStaticOptionsException">A record type is unknown or an address does not parse; names the option.</exception>
    public static DnsStaticOptions FromText(
        string? zone,
        TimeSpan ttl,
        int maxUdpPayload,
        IEnumerable<KeyValuePair<string, IEnumerable<KeyValuePair<string, IReadOnlyList<string>>>>> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        var parsed = new Dictionary<string, DnsRecordSet>(StringComparer.Ordinal);
        foreach (var (name, types) in records)
        {
            var a = new List<IPAddress>();
            var aaaa = new List<IPAddress>();
            var txt = new List<string>();
            foreach (var (type, values) in types)
            {
                var key = $"{RecordKey(name)}.{type}";
                switch (type.ToUpperInvariant())
                {
                    case "A": a.AddRange(values.Select((v, i) => ParseIPv4(v, $"{key}[{i}]"))); break;
                    case "AAAA": aaaa.AddRange(values.Select((v, i) => ParseIPv6(v, $"{key}[{i}]"))); break;
                    case "TXT": txt.AddRange(values); break;
                    default: throw new DnsStaticOptionsException(key, $"unknown record type '{type}' (known: {string.Join(", ", RecordTypes)})");
                }
            }

            if (!parsed.TryAdd(name, new DnsRecordSet(a, aaaa, txt)))
                throw new DnsStaticOptionsException(RecordKey(name), "the name is given twice");
        }

        return new DnsStaticOptions { Zone = string.IsNullOrEmpty(zone) ? null : zone, Ttl = ttl, MaxUdpPayload = maxUdpPayload, Records = parsed };
    }

    /// <summary>The option path of a name's block, as <c>records."name"</c>.</summary>
    public static string RecordKey(string name) => $"records.\"{name}\"";

    private static IPAddress ParseIPv4(string text, string key)
    {
        // IPAddress.Parse takes "1.2.3" and "0x7f.1" as IPv4 too; configuration wants exactly four decimal numbers.
        var parts = text.Split('.');
        if (parts.Length == 4
            && parts.All(p => p.Length is >= 1 and <= 3 && p.All(char.IsAsciiDigit) && int.Parse(p) <= 255))
        {
            return IPAddress.Parse(text);
        }

        throw new DnsStaticOptionsException(key, $"'{text}' is not an IPv4 address (four decimal numbers 0-255, as 127.0.0.1)");
    }

    private static IPAddress ParseIPv6(string text, string key)
    {
        if (IPAddress.TryParse(text, out var address) && address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId == 0 && !text.Contains('%'))
            return address;

        throw new DnsStaticOptionsException(key, $"'{text}' is not an IPv6 address (as ::1 or 2001:db8::1, no scope)");
    }
}
