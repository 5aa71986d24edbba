using System.Net;
using System.Text;
using ShardRuntime.Runtime.Dns;
using static ShardRuntime.Runtime.Tests.Datagrams.DnsMessages;

namespace ShardRuntime.Runtime.Tests.Datagrams;

public sealed class DnsResponderTests
{
    private static readonly DnsZone Zone = DnsZone.Compile(DnsTestZone.Options());

    private static Reply Answer(byte[] query, DnsZone? zone = null)
    {
        var response = new byte[65_536];
        var length = DnsResponder.Respond(query, response, zone ?? Zone);
        Assert.True(length > 0, "the query got no reply");
        return Read(response.AsSpan(0, length));
    }

    private static int Rcode(byte[] query) => Answer(query).Rcode;

    [Fact]
    public void An_A_query_must_get_every_address_authoritatively_with_id_rd_and_question_echoed()
    {
        var query = Query("LocalHost.ShardRuntime.TEST.", A, id: 0xBEEF);

        var reply = Answer(query);

        Assert.Equal((0xBEEF, true, 0, true, false, true, 0), (reply.Id, reply.Qr, reply.Opcode, reply.Aa, reply.Tc, reply.Rd, reply.Rcode));
        Assert.Equal(query[12..], reply.Question);
        Assert.Equal(["127.0.0.1", "127.0.0.2"], reply.Answers.Select(r => new IPAddress(r.Data).ToString()));
        Assert.All(reply.Answers, r => Assert.Equal((A, In, 300u), (r.Type, r.Class, r.Ttl)));
        Assert.Null(reply.Opt);
    }

    [Fact]
    public void An_AAAA_query_must_get_the_IPv6_address()
    {
        var reply = Answer(Query(DnsTestZone.Localhost, Aaaa));

        Assert.Equal(0, reply.Rcode);
        Assert.Equal([IPAddress.IPv6Loopback], reply.Answers.Select(r => new IPAddress(r.Data)));
    }

    [Fact]
    public void A_TXT_query_must_get_the_text_as_a_character_string()
    {
        var reply = Answer(Query(DnsTestZone.Localhost, Txt));

        Assert.Equal([(byte)11, .. "hello world"u8.ToArray()], Assert.Single(reply.Answers).Data);
    }

    [Fact]
    public void An_unknown_name_must_be_NXDOMAIN_authoritatively_with_no_answer()
    {
        var reply = Answer(Query("nope.shardruntime.test.", A));

        Assert.Equal((3, true, 0), (reply.Rcode, reply.Aa, reply.Answers.Count));
    }

    [Theory]
    [InlineData(DnsTestZone.Empty, A)]
    [InlineData(DnsTestZone.Localhost, Mx)]
    [InlineData(DnsTestZone.Big, A)]
    public void A_known_name_without_the_type_must_be_NOERROR_with_no_answer(string name, ushort type)
    {
        var reply = Answer(Query(name, type));

        Assert.Equal((0, true, 0), (reply.Rcode, reply.Aa, reply.Answers.Count));
    }

    [Theory]
    [InlineData(Ch)]
    [InlineData((ushort)255)]
    public void A_class_other_than_IN_must_be_REFUSED_with_the_question(ushort qclass)
    {
        var query = Query(DnsTestZone.Localhost, A, qclass);

        var reply = Answer(query);

        Assert.Equal((5, false, 0), (reply.Rcode, reply.Aa, reply.Answers.Count));
        Assert.Equal(query[12..], reply.Question);
    }

    [Fact]
    public void A_zone_transfer_must_be_REFUSED()
    {
        Assert.Equal(5, Rcode(Query(DnsTestZone.Localhost, 252)));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(5)]
    public void An_opcode_other_than_QUERY_must_be_NOTIMP(int opcode)
    {
        var reply = Answer(Query(DnsTestZone.Localhost, A, opcode: opcode));

        Assert.Equal((4, opcode, 0), (reply.Rcode, reply.Opcode, reply.QdCount));
    }

    public static TheoryData<string, byte[]> Malformed()
    {
        var good = Query(DnsTestZone.Localhost, A);
        var data = new TheoryData<string, byte[]>();
        for (var length = 2; length < 12; length++)
            data.Add($"header of {length} bytes", good[..length]);
        data.Add("question cut in its name", good[..20]);
        data.Add("question cut in its type", good[..^3]);
        data.Add("qdcount 0", With(good, 5, 0));
        data.Add("qdcount 2", With(good, 5, 2));
        data.Add("label length 64", With(good, 12, 64));
        data.Add("label past the end", With(good, 12, 200));
        data.Add("extended label type 0x40", With(good, 12, 0x41));
        data.Add("compression pointer in the question", [.. good[..12], 0xC0, 12, 0, 1, 0, 1]);
        data.Add("name longer than 255", [.. good[..12], .. Enumerable.Repeat<byte[]>([63, .. new byte[63]], 4).SelectMany(l => l), 0, 0, 1, 0, 1]);
        data.Add("additional record cut", [.. With(good, 11, 1), 0, 0, 41]);
        // The question takes offsets 12 to 44; the additional record's name starts at 45.
        data.Add("compression loop in the additional section", [.. With(good, 11, 1), 1, (byte)'x', 0xC0, 45, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]);
        // A TXT record whose data (offsets 56 to 59) is two pointers to each other, and a record named by a pointer to
        // the second: every pointer a name uses points before that name, yet following them never ends (and, with no
        // label in the cycle, never makes the name too long either).
        data.Add("compression loop through an earlier record", [.. With(good, 11, 2), 0, 0, 16, 0, 1, 0, 0, 0, 0, 0, 4, 0xC0, 58, 0xC0, 56, 0xC0, 58, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]);
        data.Add("pointer to itself", [.. With(good, 11, 1), 0xC0, 45, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]);
        data.Add("forward pointer", [.. With(good, 11, 1), 0xC0, 50, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]);
        data.Add("pointer cut", [.. With(good, 11, 1), 0xC0]);
        data.Add("two OPT records", [.. With(good, 11, 2), .. Opt(), .. Opt()]);
        data.Add("OPT with a name", [.. With(good, 11, 1), 1, (byte)'x', 0, .. Opt()[1..]]);
        data.Add("OPT in the answer section", [.. With(good, 7, 1), .. Opt()]);
        return data;

        static byte[] Opt() => [0, 0, 41, 16, 0, 0, 0, 0, 0, 0, 0];
    }

    [Theory]
    [MemberData(nameof(Malformed))]
    public void A_malformed_query_must_be_FORMERR_with_its_id(string what, byte[] query)
    {
        var reply = Answer(query);

        Assert.True(reply.Rcode == 1, $"{what}: rcode {reply.Rcode}");
        Assert.Equal(0x1234, reply.Id);
        Assert.Empty(reply.Answers);
    }

    [Fact]
    public void A_well_formed_additional_section_with_a_pointer_must_be_accepted()
    {
        // A record owned by a pointer to the question's name (offset 12): legal compression, not a loop.
        var query = With(Query(DnsTestZone.Localhost, A), 11, 1);
        var reply = Answer([.. query, 0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4]);

        Assert.Equal((0, 2), (reply.Rcode, reply.Answers.Count));
    }

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { 0x12 })]
    [InlineData(new byte[] { 0x12, 0x34, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0 })]
    public void A_datagram_without_an_id_or_a_response_must_get_no_reply(byte[] datagram)
    {
        Assert.Equal(0, DnsResponder.Respond(datagram, new byte[512], Zone));
    }

    [Fact]
    public void A_reply_over_512_bytes_without_EDNS0_must_carry_the_records_that_fit_and_TC()
    {
        var reply = Answer(Query(DnsTestZone.Big, Txt));

        Assert.True(reply.Tc);
        Assert.InRange(reply.Length, 512 - 72, 512);
        Assert.Equal(6, reply.Answers.Count); // 40 bytes of header and question, then 73 per record
        Assert.Equal(DnsTestZone.BigTexts[..6], reply.Answers.Select(r => Encoding.ASCII.GetString(r.Data, 1, r.Data.Length - 1)));
    }

    [Fact]
    public void An_EDNS0_query_must_get_the_whole_answer_up_to_its_size_and_an_OPT_back()
    {
        var reply = Answer(Query(DnsTestZone.Big, Txt, ednsSize: 4096));

        Assert.False(reply.Tc);
        Assert.Equal(DnsTestZone.BigTxtCount, reply.Answers.Count);
        Assert.NotNull(reply.Opt);
        Assert.Equal((ushort)4096, reply.Opt.Class);
        Assert.Equal(0u, reply.Opt.Ttl);
    }

    [Theory]
    [InlineData(100, 512)]
    [InlineData(1000, 1000)]
    [InlineData(65535, 1232)]
    public void An_EDNS0_size_must_be_taken_between_512_and_the_zone_maximum(ushort asked, int limit)
    {
        var zone = DnsZone.Compile(DnsTestZone.Options(maxUdpPayload: 1232));

        var reply = Answer(Query(DnsTestZone.Big, Txt, ednsSize: asked), zone);

        Assert.True(reply.Tc);
        Assert.InRange(reply.Length, limit - 72, limit);
        Assert.Equal((ushort)1232, reply.Opt!.Class);
    }

    [Fact]
    public void An_EDNS_version_above_0_must_be_BADVERS()
    {
        var reply = Answer(Query(DnsTestZone.Localhost, A, ednsSize: 1232, ednsVersion: 1));

        Assert.Equal((0, 0), (reply.Rcode, reply.Answers.Count));
        Assert.Equal(1u << 24, reply.Opt!.Ttl); // extended RCODE 16 = upper bits 1
    }

    [Fact]
    public void Answering_must_not_allocate()
    {
        var response = new byte[4096];
        DnsZone[] zones = [Zone, DnsZone.Compile(DnsTestZone.Options(zone: DnsTestZone.Apex))];
        byte[][] queries =
        [
            Query("LOCALHOST.shardruntime.test.", A), Query(DnsTestZone.Big, Txt, ednsSize: 4096),
            Query("nope.shardruntime.test.", Aaaa), Query("nope.test.", Aaaa), Query(DnsTestZone.Apex, Soa),
            Query(DnsTestZone.Localhost, A, Ch), [1, 2, 3],
        ];
        foreach (var zone in zones)
            foreach (var query in queries)
                DnsResponder.Respond(query, response, zone);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1_000; i++)
            DnsResponder.Respond(queries[i % queries.Length], response, zones[i % 2]);

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private static byte[] With(byte[] message, int at, byte value)
    {
        var copy = message.ToArray();
        copy[at] = value;
        return copy;
    }
}

public sealed class DnsResponderZoneTests
{
    private static readonly DnsZone Zone = DnsZone.Compile(DnsTestZone.Options(zone: DnsTestZone.Apex));

    private static Reply Answer(byte[] query)
    {
        var response = new byte[4096];
        return Read(response.AsSpan(0, DnsResponder.Respond(query, response, Zone)));
    }

    /// <summary>SOA rdata: MNAME the apex, RNAME hostmaster.apex, serial 1, refresh 3600, retry 600, expire 86400, minimum 300.</summary>
    private static void AssertSoa(DnsMessages.Record soa)
    {
        var apex = Name(DnsTestZone.Apex);
        byte[] numbers = [0, 0, 0, 1, 0, 0, 0x0E, 0x10, 0, 0, 0x02, 0x58, 0, 1, 0x51, 0x80, 0, 0, 1, 0x2C];
        Assert.Equal((Soa, In, 300u), (soa.Type, soa.Class, soa.Ttl));
        Assert.Equal([.. apex, .. Name("hostmaster." + DnsTestZone.Apex), .. numbers], soa.Data);
    }

    [Theory]
    [InlineData("nope.shardruntime.test.", A, 3)]
    [InlineData("deep.nope.SHARDRUNTIME.test.", Txt, 3)]
    [InlineData(DnsTestZone.Empty, A, 0)]
    [InlineData(DnsTestZone.Localhost, Mx, 0)]
    public void A_negative_answer_in_the_zone_must_carry_the_SOA_in_the_authority_section(string name, ushort type, int rcode)
    {
        var reply = Answer(Query(name, type));

        Assert.Equal((rcode, true, 0), (reply.Rcode, reply.Aa, reply.Answers.Count));
        AssertSoa(Assert.Single(reply.Authority));
    }

    [Fact]
    public void The_apex_must_answer_its_SOA_and_a_positive_answer_must_carry_no_authority()
    {
        var soa = Answer(Query("SHARDRUNTIME.test.", Soa));
        var a = Answer(Query(DnsTestZone.Localhost, A));

        Assert.Equal((0, true), (soa.Rcode, soa.Aa));
        AssertSoa(Assert.Single(soa.Answers));
        Assert.Empty(soa.Authority);
        Assert.Equal(2, a.Answers.Count);
        Assert.Empty(a.Authority);
    }

    [Fact]
    public void An_ANY_query_must_get_every_record_of_the_name()
    {
        var apex = Answer(Query(DnsTestZone.Apex, 255));
        var localhost = Answer(Query(DnsTestZone.Localhost, 255));

        Assert.Equal([Soa], apex.Answers.Select(r => r.Type));
        Assert.Equal([A, A, Aaaa, Txt], localhost.Answers.Select(r => r.Type));
        Assert.Empty(localhost.Authority);
    }

    [Theory]
    [InlineData("example.com.")]
    [InlineData("test.")]
    [InlineData("xshardruntime.test.")]
    public void A_name_outside_the_zone_must_be_REFUSED(string name)
    {
        var reply = Answer(Query(name, A));

        Assert.Equal((5, false), (reply.Rcode, reply.Aa));
        Assert.Empty(reply.Authority);
    }

    [Fact]
    public void A_record_outside_the_zone_must_be_refused_naming_it()
    {
        var options = DnsTestZone.Options(zone: "other.test.");

        var error = Assert.Throws<DnsStaticOptionsException>(() => DnsZone.Compile(options));

        Assert.StartsWith("records.\"", error.Key);
        Assert.Contains("is not in the zone 'other.test.'", error.Message);
    }
}
