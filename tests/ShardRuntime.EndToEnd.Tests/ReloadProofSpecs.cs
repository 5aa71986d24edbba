using System.Net;
using ShardRuntime.EndToEnd.Tests.Support;
using ShardRuntime.LoadGen.Run;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests;

/// <summary>
/// The headline promise, end to end: while the load generator opens new connections and keeps others busy, handler
/// code is reloaded 20 times and the shard count changed 20 times through the CLI, and not one connection is refused,
/// reset, timed out or answered wrongly; every connection is answered by the generation that accepted it.
/// </summary>
public sealed class ReloadProofSpecs(ITestOutputHelper output)
{
    private const string HandlerType = "SampleHandlers.GenerationHttpHandler";

    [Fact]
    public async Task Twenty_reloads_and_twenty_shard_changes_under_churn_must_lose_no_connection()
    {
        // The handler assembly the node loads, in a folder of its own: v1 first, replaced by v2 half-way.
        var handlerDirectory = Directory.CreateTempSubdirectory("sr-e2e-handler-");
        try
        {
            CopyFixture("v1", handlerDirectory.FullName);
            var assembly = Path.Combine(handlerDirectory.FullName, "SampleHandlers.dll");
            await using var host = HostProcess.Start(output, HostProcess.Config($$"""
                http {
                  endpoint = "127.0.0.1:0"
                  handler-assembly = "{{assembly}}"
                  handler-type = "{{HandlerType}}"
                  shards = 2
                  drain-timeout = 5m
                }
                """));
            var http = (await host.WaitUntilReadyAsync()).Listener("http");
            var firstSha = http.Generations.Single().Sha256;

            using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(5));
            var load = LoadRun.RunAsync(new LoadOptions
            {
                Target = http.Bound,
                Mode = LoadMode.Churn | LoadMode.KeepAlive,
                Protocol = LoadProtocol.Http,
                Rate = 150,
                MaxInFlight = 200,
                Connections = 6,
                Duration = TimeSpan.FromMinutes(5), // the test ends it (stop) once the changes are done
                Timeout = TimeSpan.FromSeconds(15),
                GenerationHeader = "X-Handler-Generation",
            }, cancellationToken: stop.Token);

            int[] shardCounts = [4, 1, 3, 2, 4, 1, 3, 1, 2, 4, 2, 3, 1, 4, 2, 1, 3, 2, 4, 2];
            for (var i = 0; i < 20; i++)
            {
                if (i == 10) CopyFixture("v2", handlerDirectory.FullName); // new code on disk: later generations run it

                var reload = await host.RunCliAsync("reload", "http");
                Assert.True(reload.ExitCode == 0, reload.ToString());
                Assert.Equal($"http: generation {i + 2}", reload.StdOut.Trim());

                var scale = await host.RunCliAsync("scale", "http", shardCounts[i].ToString());
                Assert.True(scale.ExitCode == 0, scale.ToString());
                Assert.False(load.IsCompleted, "the load ended before the changes did");
            }

            var status = await host.StatusAsync();
            var listener = status.Listener("http");
            Assert.Equal(21, listener.Generation);
            Assert.NotEqual(firstSha, listener.Generations.First().Sha256); // v2 is what runs now
            await stop.CancelAsync();
            var report = await load;

            output.WriteLine($"generations seen: {string.Join(", ", report.Generations.Select(g => $"{g.Value}x{g.Replies}"))}");
            LoadAssert.NoLoss(report, output, "http", atLeast: 1000);

            // Every reply says which generation wrote it: no connection saw two, and generations took over in order.
            Assert.Equal(0, report.RepliesWithoutGeneration);
            Assert.Equal(0, report.MixedGenerationConnections);
            var seen = report.Generations.Select(g => (Number: int.Parse(g.Value), g.FirstSeenMs)).OrderBy(g => g.Number).ToList();
            Assert.Contains(seen, g => g.Number == 1);
            Assert.Contains(seen, g => g.Number == 21);
            Assert.All(seen, g => Assert.InRange(g.Number, 1, 21));
            for (var i = 1; i < seen.Count; i++)
                Assert.True(seen[i - 1].FirstSeenMs <= seen[i].FirstSeenMs,
                    $"generation {seen[i].Number} answered before generation {seen[i - 1].Number} ever did");
        }
        finally
        {
            handlerDirectory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_reload_of_a_broken_handler_must_be_refused_with_the_reason_and_the_running_generation_must_keep_serving()
    {
        var handlerDirectory = Directory.CreateTempSubdirectory("sr-e2e-handler-");
        try
        {
            CopyFixture("v1", handlerDirectory.FullName);
            var assembly = Path.Combine(handlerDirectory.FullName, "SampleHandlers.dll");
            await using var host = HostProcess.Start(output, HostProcess.Config($$"""
                http { endpoint = "127.0.0.1:0", handler-assembly = "{{assembly}}", handler-type = "{{HandlerType}}", shards = 1 }
                """));
            var http = (await host.WaitUntilReadyAsync()).Listener("http");
            Assert.Equal(0, (await host.RunCliAsync("reload")).ExitCode);

            // A build that went wrong: the file is not an assembly any more.
            await File.WriteAllTextAsync(assembly, "not an assembly");
            var refused = await host.RunCliAsync("reload", "http");
            Assert.Equal(1, refused.ExitCode);
            Assert.Contains("listener 'http'", refused.StdErr);
            Assert.Contains("generation 2 keeps serving", refused.StdErr);

            using var client = await Clients.ConnectAsync(http.Bound);
            var reply = await Clients.HttpGetAsync(client);
            Assert.Equal("HTTP/1.1 200 OK", reply.StatusLine);
            Assert.Contains("X-Handler-Generation: 2", reply.Head);
            var listener = (await host.StatusAsync()).Listener("http");
            Assert.Equal(2, listener.Generation);
            Assert.NotNull(listener.LastReloadFailure);
        }
        finally
        {
            handlerDirectory.Delete(recursive: true);
        }
    }

    private static void CopyFixture(string variant, string into)
    {
        var from = Path.Combine(AppContext.BaseDirectory, "fixtures", variant);
        foreach (var file in Directory.GetFiles(from))
            File.Copy(file, Path.Combine(into, Path.GetFileName(file)), overwrite: true);
    }
}
