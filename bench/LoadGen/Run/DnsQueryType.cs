namespace ShardRuntime.LoadGen.Run;

/// <summary>The QTYPE of the DNS queries a UDP run sends (the values are the RFC 1035/3596 codes).</summary>
public enum DnsQueryType
{
    /// <summary>An IPv4 address.</summary>
    A = 1,

    /// <summary>Text strings.</summary>
    Txt = 16,

    /// <summary>An IPv6 address.</summary>
    Aaaa = 28,
}
