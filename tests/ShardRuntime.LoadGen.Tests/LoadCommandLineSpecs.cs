using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using ShardRuntime.LoadGen.Cli;
using ShardRuntime.LoadGen.Tests.Support;

namespace ShardRuntime.LoadGen.Tests;

public sealed class LoadCommandLineSpecs
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static async Task<(int ExitCode, string Output, string Error)> InvokeAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exitCode = await LoadCommandLine.InvokeAsync(args, output, error).WaitAsync(Bound);
        return (exitCode, output.ToString(), error.ToString());
    }

    [Theory]
    [InlineData("10.1.2.3:8080")]
    [InlineData("[2001:db8::1]:8080")]
    [InlineData("0.0.0.0:8080")]
    public async Task A_target_that_is_not_loopback_must_exit_2_with_a_clear_error(string target)
    {
        var (exitCode, output, error) = await InvokeAsync("--target", target, "--count", "1");

        Assert.Equal(ExitCodes.Usage, exitCode);
        Assert.Contains("is not a loopback address", error, StringComparison.Ordinal);
        Assert.Empty(output);
    }

    [Theory]
    [InlineData("--target", "127.0.0.1")]
    [InlineData("--target", "127.0.0.1:8080", "--duration", "soon")]
    [InlineData("--target", "127.0.0.1:8080", "--duration", "2h")]
    [InlineData("--target", "127.0.0.1:8080", "--mode", "storm")]
    [InlineData("--target", "127.0.0.1:8080", "--rate", "0")]
    [InlineData("--target", "127.0.0.1:8080", "--protocol", "echo", "--payload-bytes", "4")]
    [InlineData("--count", "5")]
    [InlineData("--target", "127.0.0.1:53", "--mode", "udp", "--protocol", "http")]
    [InlineData("--target", "127.0.0.1:53", "--protocol", "dns")]
    [InlineData("--target", "127.0.0.1:53", "--mode", "udp", "--protocol", "dns", "--dns-type", "MX")]
    [InlineData("--target", "127.0.0.1:53", "--mode", "udp", "--protocol", "dns", "--dns-rcode", "BOGUS")]
    [InlineData("--target", "127.0.0.1:53", "--mode", "udp", "--protocol", "dns", "--dns-type", "AAAA", "--dns-expect-address", "127.0.0.1")]
    [InlineData("--target", "127.0.0.1:53", "--mode", "udp", "--protocol", "dns", "--dns-expect-address", "localhost")]
    [InlineData("--target", "127.0.0.1:53", "--mode", "udp", "--max-in-flight", "70000")]
    [InlineData("--target", "127.0.0.1:53", "--mode", "udp", "--flows", "0")]
    public async Task A_malformed_command_line_must_exit_2(params string[] args)
    {
        var (exitCode, _, error) = await InvokeAsync(args);

        Assert.Equal(ExitCodes.Usage, exitCode);
        Assert.StartsWith("error: ", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_run_must_print_a_summary_and_write_the_json_summary()
    {
        await using var server = TestServer.Http((connection, _) => TestServer.Ok(extraHeaders: "X-Handler-Generation: 7\r\n"));
        var json = Path.Combine(Path.GetTempPath(), $"loadgen-{Guid.NewGuid():N}.json");
        try
        {
            var (exitCode, output, _) = await InvokeAsync(
                "--target", server.EndPoint.ToString(), "--mode", "both", "--count", "300", "--rate", "3000",
                "--connections", "2", "--generation-header", "X-Handler-Generation", "--json", json, "--fail-on-errors");

            Assert.Equal(ExitCodes.Ran, exitCode);
            Assert.Contains("result: every attempt succeeded", output, StringComparison.Ordinal);
            Assert.Contains("latency churn", output, StringComparison.Ordinal);
            using var document = JsonDocument.Parse(await File.ReadAllTextAsync(json));
            var root = document.RootElement;
            Assert.Equal(300, root.GetProperty("total").GetProperty("succeeded").GetInt64());
            Assert.Equal(0, root.GetProperty("total").GetProperty("failed").GetInt64());
            Assert.Equal(300, root.GetProperty("total").GetProperty("latency_us").GetProperty("count").GetInt64());
            Assert.True(root.GetProperty("churn").GetProperty("latency_us").GetProperty("p99").GetDouble() > 0);
            Assert.Equal("both", root.GetProperty("options").GetProperty("mode").GetString());
            var generation = Assert.Single(root.GetProperty("generations").EnumerateArray());
            Assert.Equal("7", generation.GetProperty("value").GetString());
            Assert.Equal(300, generation.GetProperty("replies").GetInt64());
            Assert.True(root.TryGetProperty("started_at", out _));
            Assert.True(root.TryGetProperty("ended_at", out _));
        }
        finally
        {
            File.Delete(json);
        }
    }

    [Fact]
    public async Task A_udp_dns_run_must_print_the_datagram_counts_and_write_them_to_the_json_summary()
    {
        await using var server = UdpTestServer.Start((_, query) => [DnsTestResponder.Answer(query, IPAddress.Loopback)]);
        var json = Path.Combine(Path.GetTempPath(), $"loadgen-{Guid.NewGuid():N}.json");
        try
        {
            var (exitCode, output, _) = await InvokeAsync(
                "--target", server.EndPoint.ToString(), "--mode", "udp", "--protocol", "dns", "--dns-name", "localhost.shardruntime.test",
                "--dns-type", "a", "--dns-expect-address", "127.0.0.1", "--count", "200", "--rate", "2000", "--flows", "3",
                "--json", json, "--fail-on-errors");

            Assert.Equal(ExitCodes.Ran, exitCode);
            Assert.Contains("mode udp", output, StringComparison.Ordinal);
            Assert.Contains("datagrams: sent 200  answered 200  lost 0  duplicated 0", output, StringComparison.Ordinal);
            Assert.Contains("latency udp", output, StringComparison.Ordinal);
            Assert.Contains("result: every attempt succeeded", output, StringComparison.Ordinal);
            using var document = JsonDocument.Parse(await File.ReadAllTextAsync(json));
            var root = document.RootElement;
            var udp = root.GetProperty("udp");
            Assert.Equal(200, udp.GetProperty("sent").GetInt64());
            Assert.Equal(200, udp.GetProperty("answered").GetInt64());
            Assert.Equal(0, udp.GetProperty("lost").GetInt64());
            Assert.Equal(0, udp.GetProperty("duplicated").GetInt64());
            Assert.Equal(3, udp.GetProperty("flows").GetInt64());
            Assert.Equal(200, udp.GetProperty("latency_us").GetProperty("count").GetInt64());
            Assert.Equal(200, root.GetProperty("total").GetProperty("succeeded").GetInt64());
            Assert.Equal("udp", root.GetProperty("options").GetProperty("mode").GetString());
            Assert.Equal("dns", root.GetProperty("options").GetProperty("protocol").GetString());
            Assert.Equal("A", root.GetProperty("options").GetProperty("dns_type").GetString());
        }
        finally
        {
            File.Delete(json);
        }
    }

    [Fact]
    public async Task Udp_duplicates_must_exit_1_with_fail_on_errors()
    {
        await using var server = UdpTestServer.Start((n, datagram) => n == 3 ? [datagram, datagram] : [datagram]);

        var (exitCode, output, _) = await InvokeAsync(
            "--target", server.EndPoint.ToString(), "--mode", "udp", "--count", "10", "--fail-on-errors");

        Assert.Equal(ExitCodes.AttemptsFailed, exitCode);
        Assert.Contains("result: 0 attempt(s) failed, 1 extra or unmatched repl(ies)", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Failed_attempts_must_exit_1_only_with_fail_on_errors()
    {
        using var closed = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        closed.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var target = closed.LocalEndPoint!.ToString()!;

        var plain = await InvokeAsync("--target", target, "--count", "3");
        var failing = await InvokeAsync("--target", target, "--count", "3", "--fail-on-errors");

        Assert.Equal(ExitCodes.Ran, plain.ExitCode);
        Assert.Equal(ExitCodes.AttemptsFailed, failing.ExitCode);
        Assert.Contains("result: 3 attempt(s) failed", failing.Output, StringComparison.Ordinal);
    }
}
