using System.Net;
using ShardRuntime.Runtime.Dns;

namespace ShardRuntime.Fuzz;

/// <summary>
/// The <c>dns-static</c> responder: the input is one datagram. It must get no reply (shorter than an ID, or a response)
/// or a reply with the query's ID, QR set, a known RCODE, at most one question, and no more than 512 bytes unless the
/// reply carries an OPT record (then no more than the zone's 1,232). Any exception is a finding.
/// </summary>
internal static class DnsStaticTarget
{
    private static readonly DnsZone Zone = DnsZone.Compile(new DnsStaticOptions
    {
        Zone = "shardruntime.test.",
        Ttl = TimeSpan.FromSeconds(300),
        MaxUdpPayload = 1232,
        Records = new Dictionary<string, DnsRecordSet>
        {
            ["localhost.shardruntime.test."] = new([IPAddress.Loopback], [IPAddress.IPv6Loopback], ["hello"]),
            ["big.shardruntime.test."] = new([], [], Enumerable.Range(0, 40).Select(i => new string('x', i * 7)).ToList()),
        },
    });

    private static readonly byte[] Response = new byte[4096];

    public static void Run(byte[] input)
    {
        var length = DnsResponder.Respond(input, Response, Zone);
        var ignored = input.Length < 2 || (input.Length >= 3 && (input[2] & 0x80) != 0);
        if (length == 0)
        {
            Check(ignored, "a query got no reply");
            return;
        }

        var reply = Response.AsSpan(0, length);
        Check(!ignored, "a datagram without an ID or a response got a reply");
        Check(length >= 12, $"a reply of {length} bytes is shorter than a header");
        Check(reply[0] == input[0] && reply[1] == input[1], "the reply's ID is not the query's");
        Check((reply[2] & 0x80) != 0, "the reply's QR bit is clear");
        Check((reply[3] & 0xF) is 0 or 1 or 3 or 4 or 5, $"unexpected RCODE {reply[3] & 0xF}");
        Check(reply[4] == 0 && reply[5] <= 1, "more than one question in a reply");
        Check(reply[8] == 0 && reply[9] <= 1, "more than the SOA in the authority section");
        var withOpt = reply[10] != 0 || reply[11] != 0;
        Check(length <= (withOpt ? 1232 : 512), $"a reply of {length} bytes (OPT: {withOpt})");
    }

    private static void Check(bool holds, string finding)
    {
        if (!holds)
            throw new InvalidOperationException(finding);
    }
}
