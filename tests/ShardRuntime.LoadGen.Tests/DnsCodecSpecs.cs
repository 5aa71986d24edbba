using System.Net;
using ShardRuntime.LoadGen.Protocols;
using ShardRuntime.LoadGen.Run;
using ShardRuntime.LoadGen.Tests.Support;

namespace ShardRuntime.LoadGen.Tests;

public sealed class DnsCodecSpecs
{
    [Theory]
    // RFC 1035 4.1: header (id, RD, QDCOUNT 1), then the question: length-prefixed labels, the root, QTYPE, QCLASS IN.
    [InlineData("example.com", DnsQueryType.A, "1234 0100 0001 0000 0000 0000 07 6578616d706c65 03 636f6d 00 0001 0001")]
    [InlineData("example.com.", DnsQueryType.Aaaa, "1234 0100 0001 0000 0000 0000 07 6578616d706c65 03 636f6d 00 001c 0001")]
    [InlineData("t.example", DnsQueryType.Txt, "1234 0100 0001 0000 0000 0000 01 74 07 6578616d706c65 00 0010 0001")]
    [InlineData(".", DnsQueryType.A, "1234 0100 0001 0000 0000 0000 00 0001 0001")]
    public void A_query_must_be_in_rfc_1035_wire_format_with_the_number_as_its_id(string name, DnsQueryType type, string hex)
    {
        var codec = new DnsCodec(name, type, 0, null);
        var query = new byte[codec.MaxQueryBytes];

        int length = codec.WriteQuery(query, flow: 3, number: 0x5_1234, sentAt: 99);

        Assert.Equal(Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal)), query[..length]);
    }

    [Fact]
    public void A_reply_must_be_checked_for_the_expected_address_in_compressed_answers()
    {
        var right = new DnsCodec("Mixed.Case.test", DnsQueryType.Aaaa, 0, IPAddress.IPv6Loopback);
        var query = new byte[right.MaxQueryBytes];
        right.WriteQuery(query, 0, 7, 0);
        var reply = DnsTestResponder.Answer(query, IPAddress.IPv6Loopback);
        // A server may answer the name in another case (RFC 4343).
        reply[13] = (byte)'m';

        Assert.Null(right.Check(reply, 0, 7, 0));
        Assert.Equal(WrongReasons.DnsAnswerMissing, new DnsCodec("Mixed.Case.test", DnsQueryType.Aaaa, 0, IPAddress.Parse("::2")).Check(reply, 0, 7, 0));
        Assert.Equal(WrongReasons.DnsMalformed, right.Check(reply[..^3], 0, 7, 0));
        Assert.Equal(WrongReasons.DnsNotAResponse, right.Check(query, 0, 7, 0));
        reply[2] |= 0x02;
        Assert.Equal(WrongReasons.DnsTruncated, right.Check(reply, 0, 7, 0));
    }

    [Fact]
    public void A_reply_without_a_question_must_be_named_by_its_rcode()
    {
        // Servers often answer FORMERR or REFUSED with the header alone (QDCOUNT 0).
        var codec = new DnsCodec("a.test", DnsQueryType.A, 0, null);
        var reply = Convert.FromHexString("0007 8005 0000 0000 0000 0000".Replace(" ", "", StringComparison.Ordinal));

        Assert.Equal("dns-rcode-REFUSED", codec.Check(reply, 0, 7, 0));
        reply[3] = 0;
        Assert.Equal(WrongReasons.DnsQuestionMismatch, codec.Check(reply, 0, 7, 0));
    }

    [Theory]
    [InlineData("NOERROR", 0)]
    [InlineData("nxdomain", 3)]
    [InlineData("REFUSED", 5)]
    [InlineData("15", 15)]
    [InlineData("16", null)]
    [InlineData("NOPE", null)]
    public void Rcodes_must_be_read_by_name_or_number(string text, int? rcode) => Assert.Equal(rcode, DnsCodec.ParseRcode(text));

    [Theory]
    [InlineData("localhost.shardruntime.test.", null)]
    [InlineData("a..b", "every label must be 1 to 63 characters")]
    [InlineData("bad name.test", "labels may hold ASCII letters, digits, '-', '_' and '*' only")]
    public void Names_must_be_checked_before_a_run(string name, string? problem) => Assert.Equal(problem, DnsCodec.NameProblem(name));
}
