using System.Text;
using ShardRuntime.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests;

/// <summary>
/// An app that hosts ShardRuntime itself (WithShardRuntime, its own handler) and calls EnableUpgrade: `shardruntime
/// upgrade` against its control socket starts the app again, which takes the listening sockets over (SCM_RIGHTS through
/// the upgrade socket) as the host's successor does; the old process drains and exits.
/// </summary>
public sealed class EmbeddedUpgradeSpecs(ITestOutputHelper output)
{
    private static readonly TimeSpan UpgradeCliTimeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task An_app_that_enabled_upgrade_must_be_upgraded_into_its_own_new_process_under_steady_load_losing_nothing()
    {
        await using var app = HostProcess.StartApp(output, EmbeddedAppDll());
        await using var chain = new NodeChain(output); // ended first: the successor shares the app's output pipes
        var before = await app.WaitUntilReadyAsync();
        var http = before.Listener("http");
        var inodes = http.Shards.Select(s => s.SocketInode).Order().ToList();
        var upper = before.Listener("upper").Bound;

        // status names the app's own handler by its factory and assembly; the runtime's own says built-in.
        var status = await app.RunCliAsync("status");
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.Contains("EmbeddedApp.UppercaseFactory (EmbeddedApp)", status.StdOut);
        Assert.Contains("built-in", status.StdOut);

        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var load = UpgradeLoad.ChurnAndKeepAlive(http.Bound, TimeSpan.FromMinutes(5), stop.Token);

        var upgrade = await HostCli.RunAsync(["upgrade", "--control-socket", app.ControlSocket], UpgradeCliTimeout);
        Assert.True(upgrade.ExitCode == 0, $"{upgrade}\n{app.Output}");
        var successor = UpgradeLoad.SuccessorOf(upgrade);
        chain.Track(successor);
        Assert.Contains("process generation 2", upgrade.StdOut);

        // The app's new process serves the very same kernel sockets, at the same control socket path.
        var after = await app.StatusAsync();
        Assert.Equal(successor, after.ProcessId);
        Assert.Equal(2, after.ProcessGeneration);
        Assert.Equal(inodes, after.Listener("http").Shards.Select(s => s.SocketInode).Order().ToList());
        Assert.Equal(inodes, (await KernelSockets.ListeningInodesAsync(http.Bound)).Order().ToList());
        using (var client = await Clients.ConnectAsync(upper))
        {
            await Clients.SendAsync(client, "abc");
            Assert.Equal("ABC", Encoding.ASCII.GetString(await Clients.ReceiveExactlyAsync(client, 3)));
        }

        // The old process drained and exited by itself, 0; the load ran through all of it.
        Assert.Equal(0, await app.WaitForProcessExitAsync(HostProcess.StopTimeout));
        Assert.Contains($"Node {app.ProcessId} stopped", app.Output);
        Assert.False(load.IsCompleted, "the load ended before the upgrade did");
        await stop.CancelAsync();
        LoadAssert.NoLoss(await load, output, "http", atLeast: 1000);
    }

    [Fact]
    public async Task An_app_that_did_not_enable_upgrade_must_refuse_upgrade_saying_what_to_call()
    {
        await using var app = HostProcess.StartApp(output, EmbeddedAppDll(), "--no-upgrade");
        await app.WaitUntilReadyAsync();

        var upgrade = await HostCli.RunAsync(["upgrade", "--control-socket", app.ControlSocket], UpgradeCliTimeout);

        Assert.NotEqual(0, upgrade.ExitCode);
        Assert.Contains("upgrades are off on this node", upgrade.StdErr + upgrade.StdOut);
        Assert.Contains("WithShardRuntime(o => o.EnableUpgrade())", upgrade.StdErr + upgrade.StdOut);
        Assert.False(app.HasExited, "the app stopped after a refused upgrade");
    }

    private static string EmbeddedAppDll()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "fixtures", "embedded-app", "EmbeddedApp.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: the EmbeddedApp fixture was not built and copied");
        return dll;
    }
}
