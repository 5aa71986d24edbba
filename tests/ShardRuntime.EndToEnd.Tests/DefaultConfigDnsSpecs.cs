using ShardRuntime.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests;

/// <summary>
/// The host on its embedded default configuration (config/hocon, no --config, as after the README's `dotnet run`)
/// serves `dns` (dns-static over UDP, one socket per core) on port 5300, and dig, a client nobody here wrote, gets its
/// answers. The fixed ports of the default config are bound on 127.0.0.14 (SHARDRUNTIME_BIND_ADDRESS), which no other
/// spec binds, so the spec never meets a node someone runs on 127.0.0.1.
/// </summary>
public sealed class DefaultConfigDnsSpecs(ITestOutputHelper output)
{
    private const string Address = "127.0.0.14";

    [SkippableFact]
    public async Task The_default_config_must_answer_dig_for_localhost_shardruntime_test_and_NXDOMAIN_for_an_unknown_name()
    {
        Skip.IfNot(File.Exists("/usr/bin/dig"), "dig is not installed (apt-get install bind9-dnsutils)");
        await using var host = HostProcess.Start(output, configText: null,
            environment: new Dictionary<string, string> { ["SHARDRUNTIME_BIND_ADDRESS"] = Address }, embeddedConfig: true);
        var status = await host.WaitUntilReadyAsync();
        var dns = status.Listener("dns");
        Assert.Equal("udp", dns.Protocol);
        Assert.Equal($"{Address}:5300", dns.Bound.ToString());
        Assert.Equal(Environment.ProcessorCount, dns.Shards.Count);

        var known = await DigAsync("localhost.shardruntime.test");
        Assert.Contains("status: NOERROR", known.StdOut);
        Assert.Matches(@"localhost\.shardruntime\.test\.\s+300\s+IN\s+A\s+127\.0\.0\.1", known.StdOut);
        Assert.Contains("flags: qr aa", known.StdOut);

        var unknown = await DigAsync("nobody.shardruntime.test");
        Assert.Contains("status: NXDOMAIN", unknown.StdOut);

        var short_ = await DigAsync("+short", "localhost.shardruntime.test");
        Assert.Equal("127.0.0.1", short_.StdOut.Trim());
    }

    private async Task<CliResult> DigAsync(params string[] args)
    {
        var info = ToolProcess.StartInfo("/usr/bin/dig", [$"@{Address}", "-p", "5300", "+time=5", "+tries=1", .. args]);
        var result = await ToolProcess.RunAsync(info, TimeSpan.FromSeconds(30));
        output.WriteLine(result.ToString());
        Assert.True(result.ExitCode == 0, result.ToString());
        return result;
    }
}
