using System.Text.RegularExpressions;
using ShardRuntime.Runtime.Handlers;
using Xunit.Abstractions;

namespace ShardRuntime.Runtime.Tests.Datagrams;

/// <summary><c>dns-static</c> served over a real UDP socket on 127.0.0.1, asked by <c>dig</c>.</summary>
public sealed class DnsStaticDigTests(ITestOutputHelper log) : IDisposable
{
    private readonly DatagramTestServer _server = new(new DnsStaticHandlerFactory(DnsTestZone.Options(zone: DnsTestZone.Apex)));

    public void Dispose() => _server.Dispose();

    /// <summary>dig's answer to <paramref name="arguments"/>; skips the test, saying why, when dig is not installed.</summary>
    private async Task<string> Ask(params string[] arguments)
    {
        Skip.If(Dig.Missing is not null, Dig.Missing);
        var output = await Dig.AskAsync(_server.EndPoint.Port, arguments);
        log.WriteLine(output);
        // dig warns of replies it finds odd (ID mismatch, extra bytes, a malformed message); recursion not being
        // available is what an authoritative server says, and no fault.
        Assert.DoesNotContain(
            output.Split('\n'),
            line => line.Contains("warning", StringComparison.OrdinalIgnoreCase) && !line.Contains("recursion requested but not available"));
        Assert.Equal(1, Regex.Count(output, ";; Got answer:"));
        return output;
    }

    private static string Status(string output) => Regex.Match(output, @"status: (\w+)").Groups[1].Value;

    private static string[] Flags(string output) => Regex.Match(output, @";; flags: ([a-z ]+);").Groups[1].Value.Split(' ');

    private static string[] Answers(string output, string type) =>
        Regex.Matches(output, $@"^\S+\s+\d+\s+IN\s+{type}\s+(.+)$", RegexOptions.Multiline).Select(m => m.Groups[1].Value.Trim()).ToArray();

    [SkippableFact]
    public async Task Dig_must_get_the_A_records_authoritatively()
    {
        var output = await Ask("localhost.shardruntime.test", "A");

        Assert.Equal("NOERROR", Status(output));
        Assert.Contains("aa", Flags(output));
        Assert.Equal(["127.0.0.1", "127.0.0.2"], Answers(output, "A").Order());
        Assert.Matches(@"localhost\.shardruntime\.test\.\s+300\s+IN\s+A", output);
    }

    [SkippableFact]
    public async Task Dig_must_get_the_AAAA_record_whatever_the_case_of_the_name()
    {
        var output = await Ask("LocalHost.SHARDRUNTIME.test", "AAAA");

        Assert.Equal("NOERROR", Status(output));
        Assert.Equal(["::1"], Answers(output, "AAAA"));
    }

    [SkippableFact]
    public async Task Dig_must_get_the_TXT_record()
    {
        var output = await Ask("localhost.shardruntime.test", "TXT");

        Assert.Equal(["\"hello world\""], Answers(output, "TXT"));
    }

    [SkippableFact]
    public async Task Dig_must_see_NXDOMAIN_for_an_unknown_name()
    {
        var output = await Ask("nope.shardruntime.test", "A");

        Assert.Equal("NXDOMAIN", Status(output));
        Assert.Contains("aa", Flags(output));
        Assert.Contains("AUTHORITY: 1", output);
        Assert.Matches(@"shardruntime\.test\.\s+300\s+IN\s+SOA\s+shardruntime\.test\. hostmaster\.shardruntime\.test\. 1 3600 600 86400 300", output);
    }

    [SkippableFact]
    public async Task Dig_must_get_the_SOA_of_the_apex()
    {
        var output = await Ask("shardruntime.test", "SOA");

        Assert.Equal("NOERROR", Status(output));
        Assert.Equal(["shardruntime.test. hostmaster.shardruntime.test. 1 3600 600 86400 300"], Answers(output, "SOA"));
    }

    [SkippableFact]
    public async Task Dig_must_be_REFUSED_for_a_name_outside_the_zone()
    {
        var output = await Ask("example.com", "A");

        Assert.Equal("REFUSED", Status(output));
    }

    [SkippableFact]
    public async Task Dig_must_be_REFUSED_for_class_CH()
    {
        var output = await Ask("-c", "CH", "-t", "TXT", "localhost.shardruntime.test");

        Assert.Equal("REFUSED", Status(output));
        Assert.Matches(@";localhost\.shardruntime\.test\.\s+CH\s+TXT", output);
    }

    [SkippableFact]
    public async Task Dig_must_see_TC_on_a_reply_over_512_bytes_without_EDNS0()
    {
        var output = await Ask("+noedns", "+ignore", "big.shardruntime.test", "TXT");

        Assert.Equal("NOERROR", Status(output));
        Assert.Contains("tc", Flags(output));
        Assert.InRange(Answers(output, "TXT").Length, 1, DnsTestZone.BigTxtCount - 1);
        Assert.Matches(@"MSG SIZE\s+rcvd: (4\d\d|50\d|51[0-2])\b", output);
    }

    [SkippableFact]
    public async Task Dig_must_get_the_whole_TXT_set_with_a_4096_byte_EDNS0_buffer()
    {
        var output = await Ask("+bufsize=4096", "+ignore", "big.shardruntime.test", "TXT");

        Assert.DoesNotContain("tc", Flags(output));
        Assert.Equal(DnsTestZone.BigTexts.Select(t => $"\"{t}\"").Order(), Answers(output, "TXT").Order());
        Assert.Contains("; EDNS: version: 0", output);
        Assert.Contains("udp: 4096", output);
    }
}
