using ShardRuntime.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests;

/// <summary>
/// An ordinary ASP.NET Core minimal API app on ShardRuntime (ShardRuntime.AspNetCore's UseShardRuntime, EnableUpgrade):
/// Kestrel serves HTTP, ShardRuntime owns the sharded sockets, and `shardruntime upgrade` against the app's control socket
/// starts the app again, which takes the sockets over while the old one lets Kestrel finish its requests.
/// </summary>
public sealed class AspNetCoreUpgradeSpecs(ITestOutputHelper output)
{
    private static readonly TimeSpan UpgradeCliTimeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task A_minimal_api_app_upgraded_ten_times_under_churn_and_keepalive_load_must_fail_no_request()
    {
        await using var app = HostProcess.StartApp(output, AppDll());
        await using var chain = new NodeChain(output); // ended first: successors share the app's output pipes
        var web = (await app.WaitUntilReadyAsync()).Listener("web");
        Assert.Equal("kestrel", web.Handler);
        var inodes = web.Shards.Select(s => s.SocketInode).Order().ToList();

        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        var load = UpgradeLoad.ChurnAndKeepAlive(web.Bound, TimeSpan.FromMinutes(10), stop.Token);

        var predecessors = new List<int> { app.ProcessId };
        for (var generation = 2; generation <= 11; generation++)
        {
            var upgrade = await HostCli.RunAsync(["upgrade", "--control-socket", app.ControlSocket], UpgradeCliTimeout);
            Assert.True(upgrade.ExitCode == 0, $"{upgrade}\n{app.Output}");
            var successor = UpgradeLoad.SuccessorOf(upgrade);
            chain.Track(successor);
            Assert.Contains($"process generation {generation}", upgrade.StdOut);

            // The app's new process serves the very same kernel sockets through its own Kestrel.
            var status = await app.StatusAsync();
            Assert.Equal(successor, status.ProcessId);
            Assert.Equal(inodes, status.Listener("web").Shards.Select(s => s.SocketInode).Order().ToList());
            Assert.False(load.IsCompleted, "the load ended before the upgrades did");
            predecessors.Add(successor);
        }

        await stop.CancelAsync();
        LoadAssert.NoLoss(await load, output, "web", atLeast: 1000);

        // Every predecessor let Kestrel finish, drained and exited by itself; the first one (the test's child) with 0.
        Assert.Equal(0, await app.WaitForProcessExitAsync(HostProcess.StopTimeout));
        foreach (var pid in predecessors.Take(predecessors.Count - 1))
        {
            Assert.True(await NodeChain.WaitUntilGoneAsync(pid, HostProcess.StopTimeout), $"predecessor pid {pid} did not exit\n{app.Output}");
            Assert.Contains($"Node {pid} stopped", app.Output);
        }
    }

    private static string AppDll()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "fixtures", "aspnetcore-app", "AspNetCoreApp.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: the AspNetCoreApp fixture was not built and copied");
        return dll;
    }
}
