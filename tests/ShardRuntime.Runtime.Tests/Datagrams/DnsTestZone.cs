using System.Net;
using ShardRuntime.Runtime.Dns;

namespace ShardRuntime.Runtime.Tests.Datagrams;

/// <summary>The zone the DNS tests serve.</summary>
internal static class DnsTestZone
{
    public const string Localhost = "localhost.shardruntime.test.";
    public const string Big = "big.shardruntime.test.";
    public const string Empty = "empty.shardruntime.test.";
    public const int BigTxtCount = 20;

    /// <summary>Twenty texts of 60 characters: 73 bytes each as a record, 1,460 in all (more than 512).</summary>
    public static readonly string[] BigTexts = Enumerable.Range(0, BigTxtCount).Select(i => $"{i:D2}-" + new string((char)('a' + i), 57)).ToArray();

    /// <summary>The zone apex of <see cref="Options"/> with a zone.</summary>
    public const string Apex = "shardruntime.test.";

    public static DnsStaticOptions Options(int maxUdpPayload = 4096, string? zone = null) => new()
    {
        Zone = zone,
        Ttl = TimeSpan.FromSeconds(300),
        MaxUdpPayload = maxUdpPayload,
        Records = new Dictionary<string, DnsRecordSet>
        {
            [Localhost] = new([IPAddress.Parse("127.0.0.1"), IPAddress.Parse("127.0.0.2")], [IPAddress.IPv6Loopback], ["hello world"]),
            [Big] = new([], [], BigTexts),
            [Empty] = DnsRecordSet.Empty,
        },
    };
}
