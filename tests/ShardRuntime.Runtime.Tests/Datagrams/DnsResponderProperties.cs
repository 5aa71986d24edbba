using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using ShardRuntime.Runtime.Dns;
using static ShardRuntime.Runtime.Tests.Datagrams.DnsMessages;

namespace ShardRuntime.Runtime.Tests.Datagrams;

public sealed class DnsResponderProperties
{
    private static readonly DnsZone Zone = DnsZone.Compile(DnsTestZone.Options(maxUdpPayload: 1232, zone: DnsTestZone.Apex));
    private static readonly int[] Rcodes = [0, 1, 3, 4, 5];

    /// <summary>
    /// Whatever the bytes: no exception, and either no reply (no ID, or a response) or a reply that reads as DNS with
    /// the query's ID, QR set, a known RCODE, and no more than the limit its EDNS0 allows.
    /// </summary>
    private static bool ReplyIsSane(byte[] datagram)
    {
        var response = new byte[2048];
        var length = DnsResponder.Respond(datagram, response, Zone);
        if (length == 0)
            return datagram.Length < 2 || (datagram.Length >= 3 && (datagram[2] & 0x80) != 0);

        var reply = Read(response.AsSpan(0, length));
        return reply.Id == (datagram[0] << 8 | datagram[1]) && reply.Qr && Rcodes.Contains(reply.Rcode)
            && length <= (reply.Opt is null ? 512 : 1232)
            && (reply.Rcode != 0 || reply.QdCount == 1);
    }

    [Property(MaxTest = 2000)]
    public bool Arbitrary_bytes_must_never_throw_and_get_no_reply_or_a_sane_one(byte[] datagram) => ReplyIsSane(datagram);

    [Property(MaxTest = 2000)]
    public Property A_query_with_bytes_changed_must_never_throw_and_get_no_reply_or_a_sane_one()
    {
        var queries = new[]
        {
            Query(DnsTestZone.Localhost, A), Query(DnsTestZone.Big, Txt, ednsSize: 4096), Query("x.test.", Aaaa, ednsSize: 600),
        };
        var mutated =
            from query in Gen.Elements(queries)
            from changes in Gen.ListOf(Gen.Zip(Gen.Choose(0, 80), Gen.Choose(0, 255)))
            from cut in Gen.Choose(0, 90)
            select Mutate(query, changes, cut);
        return Prop.ForAll(mutated.ToArbitrary(), ReplyIsSane);
    }

    private static byte[] Mutate(byte[] query, IEnumerable<(int At, int Value)> changes, int cut)
    {
        var copy = query.ToArray();
        foreach (var (at, value) in changes)
            if (at < copy.Length) copy[at] = (byte)value;
        return cut < copy.Length ? copy[..cut] : copy;
    }
}
