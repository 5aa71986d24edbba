using System.Net;
using ShardRuntime.Runtime.Dns;
using ShardRuntime.Runtime.Handlers;

namespace ShardRuntime.Runtime.Tests.Datagrams;

public sealed class DnsStaticOptionsTests
{
    private static DnsStaticOptions FromText(string name, string type, params string[] values) =>
        DnsStaticOptions.FromText(null, TimeSpan.FromSeconds(60), 1232, [new(name, [new(type, values)])]);

    [Fact]
    public void Options_from_text_must_take_each_record_type_in_any_case()
    {
        var options = DnsStaticOptions.FromText(null, TimeSpan.FromSeconds(60), 1232,
        [
            new("a.test.", [new("A", ["10.0.0.1"]), new("aaaa", ["2001:db8::1"]), new("Txt", ["x", ""])]),
            new("b.test", []),
        ]);

        var a = options.Records["a.test."];
        Assert.Equal([IPAddress.Parse("10.0.0.1")], a.A);
        Assert.Equal([IPAddress.Parse("2001:db8::1")], a.Aaaa);
        Assert.Equal(["x", ""], a.Txt);
        var b = options.Records["b.test"];
        Assert.Equal((0, 0, 0), (b.A.Count, b.Aaaa.Count, b.Txt.Count));
        Assert.Equal(2, new DnsStaticHandlerFactory(options).NameCount);
    }

    [Theory]
    [InlineData("A", "1.2.3", "records.\"a.test.\".A[0]", "not an IPv4 address")]
    [InlineData("A", "0x7f.0.0.1", "records.\"a.test.\".A[0]", "not an IPv4 address")]
    [InlineData("A", "::1", "records.\"a.test.\".A[0]", "not an IPv4 address")]
    [InlineData("A", "256.0.0.1", "records.\"a.test.\".A[0]", "not an IPv4 address")]
    [InlineData("AAAA", "127.0.0.1", "records.\"a.test.\".AAAA[0]", "not an IPv6 address")]
    [InlineData("AAAA", "fe80::1%2", "records.\"a.test.\".AAAA[0]", "not an IPv6 address")]
    [InlineData("MX", "10 mail.test.", "records.\"a.test.\".MX", "unknown record type 'MX' (known: A, AAAA, TXT)")]
    public void Options_from_text_must_refuse_a_bad_value_naming_its_key(string type, string value, string key, string reason)
    {
        var error = Assert.Throws<DnsStaticOptionsException>(() => FromText("a.test.", type, value));

        Assert.Equal(key, error.Key);
        Assert.Contains(reason, error.Message);
        Assert.StartsWith(key + ": ", error.Message);
    }

    [Theory]
    [InlineData("", "may not be empty")]
    [InlineData("a..test.", "a label of 0 characters")]
    [InlineData("bücher.test.", "other than printable ASCII")]
    [InlineData("has space.test.", "other than printable ASCII")]
    public void A_bad_name_must_be_refused_naming_its_key(string name, string reason)
    {
        var error = Assert.Throws<DnsStaticOptionsException>(() => new DnsStaticHandlerFactory(FromText(name, "A", "127.0.0.1")));

        Assert.Equal($"records.\"{name}\"", error.Key);
        Assert.Contains(reason, error.Message);
    }

    [Fact]
    public void A_label_over_63_and_a_name_over_255_bytes_must_be_refused()
    {
        var longLabel = new string('a', 64) + ".test.";
        var longName = string.Join('.', Enumerable.Repeat(new string('a', 63), 4)) + ".";

        Assert.Contains("a label of 64 characters", Assert.Throws<DnsStaticOptionsException>(() => new DnsStaticHandlerFactory(FromText(longLabel, "A"))).Message);
        Assert.Contains("257 bytes in wire form", Assert.Throws<DnsStaticOptionsException>(() => new DnsStaticHandlerFactory(FromText(longName, "A"))).Message);
    }

    [Fact]
    public void Names_differing_only_in_case_must_be_refused_as_given_twice()
    {
        var options = new DnsStaticOptions
        {
            Ttl = TimeSpan.FromSeconds(1),
            MaxUdpPayload = 512,
            Records = new Dictionary<string, DnsRecordSet> { ["A.test."] = DnsRecordSet.Empty, ["a.TEST"] = DnsRecordSet.Empty },
        };

        var error = Assert.Throws<DnsStaticOptionsException>(() => new DnsStaticHandlerFactory(options));

        Assert.Contains("given twice", error.Message);
    }

    [Theory]
    [InlineData(-1_000, 1232, "ttl")]
    [InlineData(1_500, 1232, "ttl")]
    [InlineData(1_000, 511, "max-udp-payload")]
    [InlineData(1_000, 65_508, "max-udp-payload")]
    public void A_bad_ttl_or_payload_limit_must_be_refused_naming_it(int ttlMilliseconds, int maxUdpPayload, string key)
    {
        var options = DnsTestZone.Options() with { Ttl = TimeSpan.FromMilliseconds(ttlMilliseconds), MaxUdpPayload = maxUdpPayload };

        Assert.Equal(key, Assert.Throws<DnsStaticOptionsException>(() => new DnsStaticHandlerFactory(options)).Key);
    }

    [Fact]
    public void A_TXT_text_over_255_bytes_must_be_split_into_character_strings_of_one_record()
    {
        var text = new string('z', 600);
        var zone = DnsZone.Compile(FromText("t.test.", "TXT", text));
        var response = new byte[4096];

        var length = DnsResponder.Respond(DnsMessages.Query("t.test.", DnsMessages.Txt, ednsSize: 4096), response, zone);
        var data = Assert.Single(DnsMessages.Read(response.AsSpan(0, length)).Answers).Data;

        Assert.Equal(603, data.Length);
        Assert.Equal([255, 255, 90], new[] { data[0], data[256], data[512] });
    }
}
