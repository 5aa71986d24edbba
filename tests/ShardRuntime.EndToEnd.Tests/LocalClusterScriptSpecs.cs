using System.Net;
using ShardRuntime.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests;

/// <summary>
/// deploy/cluster/local.sh as an operator runs it: three nodes on 127.0.0.11-13 whose CA and certificates it makes with
/// deploy/cluster/certs.sh (openssl) at the first start, a cluster over mutual TLS, then stop. Uses the fixed ports of
/// config/hocon (4053, 8080, 7000) on those addresses, which no other spec binds.
/// </summary>
public sealed class LocalClusterScriptSpecs(ITestOutputHelper output)
{
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromMinutes(3);

    [SkippableFact]
    public async Task The_local_cluster_script_must_start_three_nodes_over_mutual_TLS_with_certificates_it_made_and_stop_them()
    {
        Skip.IfNot(File.Exists("/usr/bin/openssl"), "openssl is not installed (apt-get install openssl)");
        var state = Directory.CreateTempSubdirectory("shardruntime-local-cluster-").FullName;
        try
        {
            var start = await RunAsync(state, "start", "--no-build");
            Assert.True(start.ExitCode == 0, start.ToString());
            Assert.Contains("making the cluster's CA and node certificates", start.StdOut);
            foreach (var file in new[] { "ca.pem", "seed.pem", "seed-key.pem", "node2.pem", "node3-key.pem" })
                Assert.True(File.Exists(Path.Combine(state, "certs", file)), $"certs.sh did not write {file}");
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(state, "certs", "node2-key.pem")));

            // Three members, up, over akka.ssl.tcp; each node serves http on its own address.
            static bool ThreeInSync(CliResult status) =>
                status.ExitCode == 0 && status.StdOut.Contains("cluster of 3 node(s)", StringComparison.Ordinal)
                && status.StdOut.Split('\n').Count(l => l.Contains(" Up ", StringComparison.Ordinal) && l.Contains("in sync", StringComparison.Ordinal)) == 3;
            var status = await Eventually.ValueAsync(() => RunAsync(state, "status"), ThreeInSync, ClusterNodes.FormTimeout, TimeSpan.FromMilliseconds(500));
            Assert.True(ThreeInSync(status), $"no cluster of three in sync within {ClusterNodes.FormTimeout}\n{status}");
            foreach (var address in new[] { "127.0.0.11", "127.0.0.12", "127.0.0.13" })
            {
                Assert.Contains($"akka.ssl.tcp://shardruntime@{address}:4053", status.StdOut);
                using var socket = await Clients.ConnectAsync(new IPEndPoint(IPAddress.Parse(address), 8080));
                var reply = await Clients.HttpGetAsync(socket);
                Assert.StartsWith("HTTP/1.1 200", reply.StatusLine);
            }
            foreach (var node in new[] { "seed", "node2", "node3" })
                Assert.Contains("Cluster transport mutual TLS", await File.ReadAllTextAsync(Path.Combine(state, node, "node.log")));
        }
        finally
        {
            var stop = await RunAsync(state, "stop");
            output.WriteLine(stop.ToString());
            Assert.True(stop.ExitCode == 0, stop.ToString());
            Directory.Delete(state, recursive: true);
        }
    }

    private async Task<CliResult> RunAsync(string state, params string[] args)
    {
        var info = ToolProcess.StartInfo(RepositoryFiles.PathOf("deploy/cluster/local.sh"), args);
        info.Environment["STATE_DIR"] = state;
        info.Environment["CONFIGURATION"] = "Debug";
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        var result = await ToolProcess.RunAsync(info, ScriptTimeout);
        output.WriteLine($"local.sh {string.Join(' ', args)}: exit {result.ExitCode}");
        return result;
    }
}
