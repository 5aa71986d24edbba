using ShardRuntime.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests;

/// <summary><c>shardruntime check</c> reads a TLS listener's files as the node would: named in the summary, refused naming the key and the file.</summary>
public sealed class TlsConfigCheckSpecs(ITestOutputHelper output) : IDisposable
{
    private readonly TestCertificates _certificates = new("check CA");

    public void Dispose() => _certificates.Dispose();

    private async Task<CliResult> CheckAsync(string listeners)
    {
        var path = Path.Combine(_certificates.Directory, "node.conf");
        await File.WriteAllTextAsync(path, HostProcess.Config(listeners));
        var result = await HostCli.RunAsync(["check", "--config", path]);
        output.WriteLine(result.ToString());
        return result;
    }

    [Fact]
    public async Task Check_must_name_the_certificate_of_a_tls_listener_and_refuse_a_key_that_is_not_its_own()
    {
        var (certificate, key) = _certificates.Node("web");
        var (_, otherKey) = _certificates.Node("other");

        var good = await CheckAsync($$"""web { endpoint = "127.0.0.1:0", handler = http-ok, tls { certificate = "{{certificate}}", key = "{{key}}" } }""");
        Assert.True(good.ExitCode == 0, good.ToString());
        Assert.Contains($"handler http-ok, tls CN=web (until ", good.StdOut);
        Assert.Contains($") from {certificate}", good.StdOut);

        var bad = await CheckAsync($$"""web { endpoint = "127.0.0.1:0", handler = http-ok, tls { certificate = "{{certificate}}", key = "{{otherKey}}" } }""");
        Assert.True(bad.ExitCode == 2, bad.ToString());
        Assert.Contains($"Setting 'shard-runtime.listeners.web.tls.key': '{otherKey}' is not the private key of the certificate in '{certificate}'", bad.StdErr);
    }
}
