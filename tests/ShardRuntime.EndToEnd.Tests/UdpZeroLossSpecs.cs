using System.Globalization;
using System.Net;
using ShardRuntime.EndToEnd.Tests.Support;
using ShardRuntime.LoadGen.Run;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests;

/// <summary>
/// The zero-loss run for UDP: a numbered stream of DNS queries (LoadGen, every query numbered per flow, loss and
/// duplicates counted) against the real host's dns-static listener through 20 scale changes, 20 reloads and 5 process
/// upgrades: 0 lost, 0 duplicated, every reply right, and the successor serves the very datagram sockets the first
/// process bound.
/// </summary>
public sealed class UdpZeroLossSpecs(ITestOutputHelper output)
{
    private static readonly TimeSpan UpgradeCliTimeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task Twenty_scales_twenty_reloads_and_five_upgrades_under_a_numbered_dns_stream_must_lose_and_duplicate_no_datagram()
    {
        await using var host = HostProcess.Start(output, HostProcess.Config("""
            dns {
              endpoint = "127.0.0.1:0", protocol = udp, handler = dns-static, shards = 2
              dns-static.records { "localhost.shardruntime.test." { A = ["127.0.0.1"] } }
            }
            """, "shard-runtime.shutdown.drain-timeout = 5s"));
        await using var chain = new NodeChain(output);
        var dns = (await host.WaitUntilReadyAsync()).Listener("dns");
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        var load = LoadRun.RunAsync(new LoadOptions
        {
            Target = dns.Bound,
            Mode = LoadMode.Udp,
            Protocol = LoadProtocol.Dns,
            DnsExpectAddress = IPAddress.Loopback,
            Flows = 16,
            Rate = 1000,
            MaxInFlight = 1000,
            Duration = TimeSpan.FromMinutes(10), // the test ends it once the changes are done
            Timeout = TimeSpan.FromSeconds(10),
        }, cancellationToken: stop.Token);

        var upgrades = 0;
        for (var change = 1; change <= 20; change++)
        {
            var shards = 1 + change % 4;
            var scale = await host.RunCliAsync("scale", "dns", shards.ToString(CultureInfo.InvariantCulture));
            Assert.True(scale.ExitCode == 0, $"{scale}\n{host.Output}");
            var reload = await host.RunCliAsync("reload");
            Assert.True(reload.ExitCode == 0, $"{reload}\n{host.Output}");
            if (change % 4 == 0)
            {
                var upgrade = await HostCli.RunAsync(["upgrade", "--control-socket", host.ControlSocket], UpgradeCliTimeout);
                Assert.True(upgrade.ExitCode == 0, $"{upgrade}\n{host.Output}");
                chain.Track(int.Parse(upgrade.StdOut.Split("successor pid ")[1].Split(' ')[0], CultureInfo.InvariantCulture));
                upgrades++;
            }
            Assert.False(load.IsCompleted, "the load ended before the changes did");
        }
        Assert.Equal(5, upgrades);
        var status = await host.StatusAsync();
        Assert.Equal(6, status.ProcessGeneration);

        await stop.CancelAsync();
        var report = await load;
        var datagrams = report.Datagrams!;
        output.WriteLine($"datagrams: sent {datagrams.Sent}, answered {datagrams.Answered}, lost {datagrams.Lost}, duplicated {datagrams.Duplicated}, " +
                         $"wrong {datagrams.Wrong}, late {datagrams.Late}, unmatched {datagrams.Unmatched}, max in flight {datagrams.MaxInFlight}");
        LoadAssert.NoLoss(report, output, "dns", atLeast: 5000);
        Assert.Equal(0, datagrams.Lost);
        Assert.Equal(0, datagrams.Duplicated);
        Assert.Equal(0, datagrams.Wrong);
        Assert.Equal(0, datagrams.Late);
        Assert.Equal(0, datagrams.Unmatched);
    }
}
