using System.Net;

namespace ShardRuntime.Runtime.Dns;

/// <summary>The records one name of a <c>dns-static</c> zone answers with, by type.</summary>
/// <param name="A">IPv4 addresses, one A record each.</param>
/// <param name="Aaaa">IPv6 addresses, one AAAA record each.</param>
/// <param name="Txt">Texts, one TXT record each (UTF-8; a text over 255 bytes is split into several character-strings of one record).</param>
public sealed record DnsRecordSet(IReadOnlyList<IPAddress> A, IReadOnlyList<IPAddress> Aaaa, IReadOnlyList<string> Txt)
{
    /// <summary>A name that exists but has no records (queries for it get NOERROR with no answer).</summary>
    public static DnsRecordSet Empty { get; } = new([], [], []);
}
