using System.Diagnostics;
using System.Globalization;
using ShardRuntime.EndToEnd.Tests.Support;
using ShardRuntime.LoadGen.Reporting;
using ShardRuntime.LoadGen.Run;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests;

/// <summary>
/// Process upgrades with real processes: the node passes its listening sockets to a successor (SCM_RIGHTS through the
/// upgrade socket), which adopts them, accepts, says Ready; only then does the old process stop accepting, drain and exit.
/// </summary>
public sealed class UpgradeSpecs(ITestOutputHelper output)
{
    private static readonly TimeSpan UpgradeCliTimeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task Ten_upgrades_in_a_row_under_connection_churn_and_keep_alive_load_must_lose_no_connection_and_keep_the_very_same_kernel_sockets()
    {
        await using var host = HostProcess.Start(output, HostProcess.Config("""
            http { endpoint = "127.0.0.1:0", handler = http-ok, shards = 2 }
            """, "shard-runtime.shutdown.drain-timeout = 5s"));
        await using var chain = new NodeChain(output); // ended first: successors share the first node's output pipes
        var http = (await host.WaitUntilReadyAsync()).Listener("http");
        var inodes = http.Shards.Select(s => s.SocketInode).Order().ToList();
        Assert.Equal(inodes, (await KernelSockets.ListeningInodesAsync(http.Bound)).Order().ToList());

        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(8));
        var load = UpgradeLoad.ChurnAndKeepAlive(http.Bound, TimeSpan.FromMinutes(8), stop.Token);

        var predecessors = new List<int> { host.ProcessId };
        for (var generation = 2; generation <= 11; generation++)
        {
            var upgrade = await HostCli.RunAsync(["upgrade", "--control-socket", host.ControlSocket], UpgradeCliTimeout);
            Assert.True(upgrade.ExitCode == 0, $"{upgrade}\n{host.Output}");
            var successor = UpgradeLoad.SuccessorOf(upgrade);
            chain.Track(successor);
            Assert.Contains($"process generation {generation}", upgrade.StdOut);

            var status = await host.StatusAsync();
            Assert.Equal(successor, status.ProcessId);
            Assert.Equal(generation, status.ProcessGeneration);
            Assert.Null(status.Upgrade);
            // The successor serves the very sockets the first process bound: same inodes, in its status and in the kernel.
            Assert.Equal(inodes, status.Listener("http").Shards.Select(s => s.SocketInode).Order().ToList());
            Assert.Equal(inodes, (await KernelSockets.ListeningInodesAsync(http.Bound)).Order().ToList());
            Assert.False(load.IsCompleted, "the load ended before the upgrades did");
            predecessors.Add(successor);
        }

        await stop.CancelAsync();
        var report = await load;
        LoadAssert.NoLoss(report, output, "http", atLeast: 1000);

        // Every predecessor drained and exited by itself; the first one (the test's child) with exit code 0.
        Assert.Equal(0, await host.WaitForProcessExitAsync(HostProcess.StopTimeout));
        foreach (var pid in predecessors.Take(predecessors.Count - 1))
        {
            Assert.True(await NodeChain.WaitUntilGoneAsync(pid, HostProcess.StopTimeout), $"predecessor pid {pid} did not exit\n{host.Output}");
            Assert.Contains($"Node {pid} stopped", host.Output);
        }
    }

    [Fact]
    public async Task A_successor_killed_mid_upgrade_must_leave_the_old_node_serving_without_loss_and_a_second_upgrade_meanwhile_is_refused()
    {
        await using var host = HostProcess.Start(output, HostProcess.Config("""
            http { endpoint = "127.0.0.1:0", handler = http-ok, shards = 2 }
            """));
        await using var chain = new NodeChain(output); // ended first: successors share the first node's output pipes
        var http = (await host.WaitUntilReadyAsync()).Listener("http");
        var inodes = http.Shards.Select(s => s.SocketInode).Order().ToList();

        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var load = Churn(http.Bound, 300, stop.Token);

        // A successor that takes every socket and then stalls: it neither accepts nor says Ready.
        using var stalled = StartStalledSuccessor(UpgradeSocketOf(host));
        var received = await ReadLineAsync(stalled, TimeSpan.FromSeconds(60));
        Assert.StartsWith("received 2 ", received);
        Assert.Equal(inodes, received.Split(' ')[2].Split(',').Select(long.Parse).Order().ToList());
        var during = await host.StatusAsync();
        Assert.Equal(stalled.Id, during.Upgrade?.SuccessorProcessId);

        // One upgrade at a time: the CLI's upgrade is refused with the reason while this one runs.
        var second = await HostCli.RunAsync(["upgrade", "--control-socket", host.ControlSocket], UpgradeCliTimeout);
        Assert.Equal(1, second.ExitCode);
        Assert.Contains("an upgrade is in progress", second.StdErr);
        Assert.Contains(stalled.Id.ToString(CultureInfo.InvariantCulture), second.StdErr);

        // kill -9 of the successor mid-upgrade: the old node rolls back and says why.
        stalled.Kill();
        await stalled.WaitForExitAsync();
        var after = await WaitForAsync(host, s => s.Upgrade is null && s.LastUpgradeFailure is not null);
        Assert.Contains("rolled back", after.LastUpgradeFailure);
        Assert.Equal(host.ProcessId, after.ProcessId);
        Assert.Equal(1, after.ProcessGeneration);
        Assert.Equal(inodes, (await KernelSockets.ListeningInodesAsync(http.Bound)).Order().ToList());
        Assert.Contains($"Upgrade rolled back, node {host.ProcessId} serves on", host.Output);

        // It serves on through the churn; and a later upgrade works.
        var upgrade = await HostCli.RunAsync(["upgrade", "--control-socket", host.ControlSocket], UpgradeCliTimeout);
        Assert.True(upgrade.ExitCode == 0, $"{upgrade}\n{host.Output}");
        chain.Track(UpgradeLoad.SuccessorOf(upgrade));
        Assert.Equal(UpgradeLoad.SuccessorOf(upgrade), (await host.StatusAsync()).ProcessId); // upgrade returns once the CLI reaches the successor

        await stop.CancelAsync();
        LoadAssert.NoLoss(await load, output, "http", atLeast: 100);
    }

    [Fact]
    public async Task A_successor_that_is_not_ready_within_the_upgrade_timeout_must_be_abandoned_and_the_old_node_must_serve_on()
    {
        await using var host = HostProcess.Start(output, HostProcess.Config("""
            http { endpoint = "127.0.0.1:0", handler = http-ok, shards = 1 }
            """, "shard-runtime.upgrade.timeout = 2s"));
        var http = (await host.WaitUntilReadyAsync()).Listener("http");

        using var stalled = StartStalledSuccessor(UpgradeSocketOf(host));
        Assert.StartsWith("received 1 ", await ReadLineAsync(stalled, TimeSpan.FromSeconds(60)));
        var after = await WaitForAsync(host, s => s.Upgrade is null && s.LastUpgradeFailure is not null);
        Assert.Contains("not ready within 2 s", after.LastUpgradeFailure);
        // The old node gave up on the stalled successor and still answers on the same socket (the Ready-after-timeout case
        // is UpgradeTests.A_Ready_that_comes_after_the_old_process_gave_up_must_make_the_successor_withdraw).
        Assert.Equal(http.Shards.Single().SocketInode, (await KernelSockets.ListeningInodesAsync(http.Bound)).Single());
        Assert.Equal("HTTP/1.1 200 OK", (await GetAsync(http)).StatusLine);
        stalled.Kill();
        await stalled.WaitForExitAsync();
    }

    [Fact]
    public async Task A_successor_that_exits_before_it_connects_must_roll_the_upgrade_back_with_its_exit_code()
    {
        var listeners = """
            http { endpoint = "127.0.0.1:0", handler = http-ok, shards = 1 }
            """;
        await using var host = HostProcess.Start(output, HostProcess.Config(listeners));
        await using var chain = new NodeChain(output); // ended first: successors share the first node's output pipes
        var http = (await host.WaitUntilReadyAsync()).Listener("http");
        var good = await File.ReadAllTextAsync(host.ConfigPath);

        // The successor reads the configuration on disk now: a broken one makes it exit 2 before it asks for sockets.
        await File.WriteAllTextAsync(host.ConfigPath, "shard-runtime { listeners { http { endpoint = nowhere } } }");
        var refused = await HostCli.RunAsync(["upgrade", "--control-socket", host.ControlSocket], UpgradeCliTimeout);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("upgrade rolled back", refused.StdErr);
        Assert.Contains("exited with code 2 before it connected", refused.StdErr);
        var status = await host.StatusAsync();
        Assert.Equal(host.ProcessId, status.ProcessId);
        Assert.Equal(1, status.ProcessGeneration);
        Assert.Equal("HTTP/1.1 200 OK", (await GetAsync(http)).StatusLine);

        await File.WriteAllTextAsync(host.ConfigPath, good);
        var upgrade = await HostCli.RunAsync(["upgrade", "--control-socket", host.ControlSocket], UpgradeCliTimeout);
        Assert.True(upgrade.ExitCode == 0, $"{upgrade}\n{host.Output}");
        chain.Track(UpgradeLoad.SuccessorOf(upgrade));
        var successor = await host.StatusAsync();
        Assert.Equal(UpgradeLoad.SuccessorOf(upgrade), successor.ProcessId);
        Assert.Equal(2, successor.ProcessGeneration);
    }

    [Fact]
    public async Task A_successor_with_another_configuration_must_retire_removed_listeners_bind_new_ones_and_reconcile_shard_counts_without_loss()
    {
        await using var host = HostProcess.Start(output, HostProcess.Config("""
            web { endpoint = "127.0.0.1:0", handler = http-ok, shards = 2 }
            wide { endpoint = "127.0.0.1:0", handler = http-ok, shards = 3 }
            old { endpoint = "127.0.0.1:0", handler = echo, shards = 1 }
            """, "shard-runtime.shutdown.drain-timeout = 5s"));
        await using var chain = new NodeChain(output); // ended first: successors share the first node's output pipes
        var before = await host.WaitUntilReadyAsync();
        var web = before.Listener("web");
        var wide = before.Listener("wide");
        var old = before.Listener("old");
        var webInodes = web.Shards.Select(s => s.SocketInode).ToHashSet();

        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var load = Churn(web.Bound, 300, stop.Token);

        var wideLoad = Churn(wide.Bound, 150, stop.Token);

        // The new release's configuration: web gets a third shard, wide keeps one of its three, old is gone, fresh is new.
        await File.WriteAllTextAsync(host.ConfigPath, HostProcess.Config("""
            web { endpoint = "127.0.0.1:0", handler = http-ok, shards = 3 }
            wide { endpoint = "127.0.0.1:0", handler = http-ok, shards = 1 }
            fresh { endpoint = "127.0.0.1:0", handler = echo, shards = 1 }
            """, "shard-runtime.shutdown.drain-timeout = 5s"));
        var upgrade = await HostCli.RunAsync(["upgrade", "--control-socket", host.ControlSocket], UpgradeCliTimeout);
        Assert.True(upgrade.ExitCode == 0, $"{upgrade}\n{host.Output}");
        Assert.Contains("1 declined", upgrade.StdOut);
        chain.Track(UpgradeLoad.SuccessorOf(upgrade));
        var after = await host.StatusAsync();
        Assert.Equal(UpgradeLoad.SuccessorOf(upgrade), after.ProcessId);

        var newWeb = after.Listener("web");
        Assert.Equal(web.Bound, newWeb.Bound);
        Assert.Equal(3, newWeb.Accepting.Count());
        Assert.Equal(2, newWeb.Shards.Count(s => webInodes.Contains(s.SocketInode))); // adopted, plus one bound
        Assert.Equal(3, (await KernelSockets.ListeningInodesAsync(web.Bound)).Count);
        Assert.DoesNotContain(after.Listeners, l => l.Name == "old");
        Assert.Equal("echo", after.Listener("fresh").Handler);

        // The old process retired the declined listener as a removed one (queue drained), then stopped; its port closes.
        Assert.True(await NodeChain.WaitUntilGoneAsync(host.ProcessId, HostProcess.StopTimeout + HostProcess.StopTimeout), host.Output);
        Assert.Empty(await KernelSockets.ListeningInodesAsync(old.Bound));

        // wide retired two of its adopted sockets (steered away from, queues drained) once the old process let go.
        var wideInodes = wide.Shards.Select(s => s.SocketInode).ToHashSet();
        var kept = await KernelSockets.WaitForListeningCountAsync(wide.Bound, 1, TimeSpan.FromSeconds(60));
        Assert.Contains(kept.Single(), wideInodes);

        await stop.CancelAsync();
        LoadAssert.NoLoss(await load, output, "web", atLeast: 100);
        LoadAssert.NoLoss(await wideLoad, output, "wide", atLeast: 100);
    }

    [Fact]
    public async Task A_successor_stopped_mid_upgrade_must_be_ended_by_pid_leave_no_foreign_holder_and_later_scale_changes_must_serve_every_request()
    {
        await using var host = HostProcess.Start(output, HostProcess.Config("""
            http { endpoint = "127.0.0.1:0", handler = http-ok, shards = 2 }
            """, "shard-runtime.upgrade.timeout = 3s"));
        var http = (await host.WaitUntilReadyAsync()).Listener("http");
        var inodes = http.Shards.Select(s => s.SocketInode).Order().ToList();

        // A successor that took copies of every socket, then is stopped (SIGSTOP): it neither says Ready nor exits.
        using var stalled = StartStalledSuccessor(UpgradeSocketOf(host));
        Assert.StartsWith("received 2 ", await ReadLineAsync(stalled, TimeSpan.FromSeconds(60)));
        Posix.Signal(stalled.Id, Posix.SigStop);

        // Rolled back after the timeout; the successor is ended (SIGTERM waits while it is stopped: SIGKILL) and gone.
        var after = await WaitForAsync(host, s => s.Upgrade is null && s.LastUpgradeFailure is not null);
        Assert.Contains("not ready within 3 s", after.LastUpgradeFailure);
        Assert.Contains($"the successor was ended: pid {stalled.Id} killed (SIGKILL)", after.LastUpgradeFailure);
        Assert.True(await NodeChain.WaitUntilGoneAsync(stalled.Id, TimeSpan.FromSeconds(30)), $"successor pid {stalled.Id} still runs\n{host.Output}");
        // The node checked the kernel's table and every process's descriptors: nobody else holds its sockets.
        await WaitForOutputAsync(host, "no other process holds this node's listening sockets");
        Assert.DoesNotContain("foreign holders", (await host.StatusAsync()).LastUpgradeFailure);
        Assert.Equal(inodes, (await KernelSockets.ListeningInodesAsync(http.Bound)).Order().ToList());

        // Scale changes retire sockets (steer away, drain, close): with a copy left elsewhere a closed socket would stay
        // in its group with nobody accepting, and requests would hang in its queue.
        foreach (var shards in new[] { 4, 1, 3 })
        {
            var scaled = await host.RunCliAsync("scale", "http", shards.ToString(CultureInfo.InvariantCulture));
            Assert.True(scaled.ExitCode == 0, scaled.ToString());
            await KernelSockets.WaitForListeningCountAsync(http.Bound, shards, TimeSpan.FromSeconds(60));
        }
        var failures = new List<string>();
        for (var i = 0; i < 200; i++)
        {
            try
            {
                var reply = await GetAsync(http);
                if (reply.StatusLine != "HTTP/1.1 200 OK") failures.Add($"request {i}: {reply.StatusLine}");
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or TimeoutException or OperationCanceledException)
            {
                failures.Add($"request {i}: {e.GetType().Name} {e.Message}");
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of 200 requests failed: {string.Join("; ", failures.Take(5))}");
    }

    [Fact]
    public async Task A_successor_killed_right_after_it_took_over_must_make_the_old_node_accept_again_on_the_same_sockets_without_loss()
    {
        await using var host = HostProcess.Start(output, HostProcess.Config("""
            http { endpoint = "127.0.0.1:0", handler = http-ok, shards = 2 }
            """, "shard-runtime.upgrade.stability-period = 60s"));
        await using var chain = new NodeChain(output); // ended first: successors share the first node's output pipes
        var http = (await host.WaitUntilReadyAsync()).Listener("http");
        var inodes = http.Shards.Select(s => s.SocketInode).Order().ToList();

        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var load = Churn(http.Bound, 200, stop.Token);
        var upgrade = HostCli.RunAsync(["upgrade", "--control-socket", host.ControlSocket], UpgradeCliTimeout);

        // The successor logs that it adopted the sockets right after Released: kill -9 it then. Connections it had accepted die
        // with it whatever the design (counted from its descriptors while stopped); nothing queued may be refused or reset.
        var successor = await WaitForSuccessorTookOverAsync(host);
        chain.Track(successor);
        Posix.Signal(successor, Posix.SigStop);
        var held = EstablishedConnectionsOf(successor, http.Bound.Port);
        Posix.Signal(successor, Posix.SigKill);
        Assert.True(await NodeChain.WaitUntilGoneAsync(successor, TimeSpan.FromSeconds(30)), host.Output);

        // `upgrade` was still waiting out the stability period: it reports the failure.
        var result = await upgrade;
        Assert.True(result.ExitCode == 1, $"{result}\n{host.Output}");
        Assert.Contains("upgrade failed", result.StdErr);
        Assert.Contains($"successor pid {successor} exited within the stability period", result.StdErr);

        // The old node took its control socket back and accepts again on the very same sockets.
        var status = await WaitForAsync(host, s => s.ProcessId == host.ProcessId && s.Upgrade is null);
        Assert.Contains("failed", status.LastUpgradeFailure);
        Assert.Equal(1, status.ProcessGeneration);
        Assert.All(status.Listener("http").Shards, s => Assert.Equal("accepting", s.State));
        Assert.Equal(inodes, (await KernelSockets.ListeningInodesAsync(http.Bound)).Order().ToList());
        Assert.Equal("HTTP/1.1 200 OK", (await GetAsync(http)).StatusLine);

        await stop.CancelAsync();
        var report = (await load).Total;
        output.WriteLine($"the successor held {held} established connection(s) when it was killed");
        output.WriteLine($"{report.Attempts} attempts: {report.Succeeded} succeeded, {report.Refused} refused, {report.Reset} reset, {report.Closed} closed, " +
                         $"{report.TimedOut} timed out, {report.WrongReply} wrong, {report.OtherError} other");
        Assert.True(report.Succeeded > 100, $"only {report.Succeeded} requests succeeded");
        Assert.Equal(0, report.Refused);
        Assert.Equal(0, report.TimedOut);
        Assert.Equal(0, report.WrongReply);
        Assert.Equal(0, report.OtherError);
        Assert.True(report.Reset + report.Closed <= held, $"{report.Reset} reset and {report.Closed} closed, the successor held {held}");
    }

    /// <summary>The pid of the successor that logged it adopted the listening sockets (it logs right after Released).</summary>
    private static async Task<int> WaitForSuccessorTookOverAsync(HostProcess host)
    {
        await WaitForOutputAsync(host, "] Adopted ");
        var line = host.Output.Split('\n').First(l => l.Contains("] Adopted ", StringComparison.Ordinal));
        // "[HH:mm:ss.fff INF <pid> g2] Adopted ..."
        return int.Parse(line[..line.IndexOf(']')].Split(' ', StringSplitOptions.RemoveEmptyEntries)[2], CultureInfo.InvariantCulture);
    }

    /// <summary>Established TCP connections on <paramref name="port"/> that <paramref name="pid"/> holds a descriptor of.</summary>
    private static int EstablishedConnectionsOf(int pid, int port)
    {
        var established = ShardRuntime.Runtime.Sockets.KernelSocketTable.List(port, ShardRuntime.Runtime.Sockets.TransportProtocol.Tcp)
            .Where(e => e.State is "ESTABLISHED" or "CLOSE_WAIT").Select(e => e.Inode).ToHashSet();
        return ShardRuntime.Runtime.Sockets.SocketHolders.Find(established, exceptProcessId: 0).Count(h => h.ProcessId == pid);
    }

    [SkippableFact]
    public async Task A_peer_of_another_uid_must_get_no_socket_and_be_logged()
    {
        Skip.IfNot(Posix.IsRoot, "needs root: the peer runs as user nobody (runuser -u nobody)");
        await using var host = HostProcess.Start(output, HostProcess.Config("""
            http { endpoint = "127.0.0.1:0", handler = http-ok, shards = 1 }
            """));
        var http = (await host.WaitUntilReadyAsync()).Listener("http");
        var upgrade = UpgradeSocketOf(host);

        // The socket file is 0600: nobody cannot even connect.
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(upgrade));
        var denied = await RunAsNobodyAsync(upgrade);
        Assert.True(denied.StdOut.StartsWith("connect-failed 13", StringComparison.Ordinal), denied.ToString()); // EACCES

        // Even with the file opened up (an operator's mistake), SO_PEERCRED refuses the peer: no descriptor, a reason, a log line.
        var directory = Path.GetDirectoryName(upgrade)!;
        File.SetUnixFileMode(directory, File.GetUnixFileMode(directory) | UnixFileMode.OtherExecute);
        File.SetUnixFileMode(upgrade, File.GetUnixFileMode(upgrade) | UnixFileMode.OtherRead | UnixFileMode.OtherWrite);
        var refused = await RunAsNobodyAsync(upgrade);
        Assert.True(refused.ExitCode == 0, refused.ToString());
        Assert.Contains("descriptors 0", refused.StdOut);
        Assert.Contains("Refused", refused.StdOut);
        Assert.Contains("uid 65534", refused.StdOut);
        await WaitForOutputAsync(host, "refused: it runs as uid 65534");

        var status = await host.StatusAsync();
        Assert.Null(status.Upgrade);
        Assert.Equal(host.ProcessId, status.ProcessId);
        Assert.Equal(http.Shards.Single().SocketInode, (await KernelSockets.ListeningInodesAsync(http.Bound)).Single());
    }

    /// <summary>Connection churn (one HTTP request per connection) at <paramref name="rate"/> per second until <paramref name="stop"/>.</summary>
    private static Task<LoadReport> Churn(System.Net.IPEndPoint target, int rate, CancellationToken stop) =>
        LoadRun.RunAsync(new LoadOptions
        {
            Target = target,
            Mode = LoadMode.Churn,
            Protocol = LoadProtocol.Http,
            Rate = rate,
            MaxInFlight = 300,
            Duration = TimeSpan.FromMinutes(5), // the spec stops it
            Timeout = TimeSpan.FromSeconds(15),
        }, cancellationToken: stop);


    private static string UpgradeSocketOf(HostProcess host) =>
        Path.Combine(Path.GetDirectoryName(host.ControlSocket)!, "control-upgrade.sock");

    private static string SuccessorChildDll()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "fixtures", "successor-child", "SuccessorChild.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: the SuccessorChild fixture was not built and copied");
        return dll;
    }

    private static Process StartStalledSuccessor(string upgradeSocket)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(SuccessorChildDll());
        info.ArgumentList.Add(upgradeSocket);
        info.ArgumentList.Add("--hold");
        return Process.Start(info) ?? throw new InvalidOperationException("the SuccessorChild process did not start");
    }

    private static async Task<string> ReadLineAsync(Process process, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var line = await process.StandardOutput.ReadLineAsync(cts.Token);
        if (line is null)
            throw new InvalidOperationException($"the successor exited with code {process.ExitCode}: {await process.StandardError.ReadToEndAsync()}");
        return line;
    }

    /// <summary>
    /// Connects to the upgrade socket as user nobody and reads until the node closes: prints "connect-failed errno", or
    /// "descriptors N" (SCM_RIGHTS received) and the bytes received.
    /// </summary>
    private static async Task<CliResult> RunAsNobodyAsync(string upgradeSocket)
    {
        Skip.IfNot(File.Exists("/usr/bin/python3"), "needs /usr/bin/python3 for the peer of user nobody");
        const string peer = """
            import array, socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(sys.argv[1])
            except OSError as e:
                print("connect-failed", e.errno, flush=True)
                sys.exit(0)
            data, fds = b"", 0
            while True:
                chunk, ancillary, flags, _ = s.recvmsg(65536, socket.CMSG_SPACE(64 * 4))
                for level, kind, payload in ancillary:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        fds += len(payload) // 4
                if not chunk:
                    break
                data += chunk
            print("descriptors", fds)
            print(data.decode("utf-8", "replace"), flush=True)
            """;
        var info = new ProcessStartInfo("runuser")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "-u", "nobody", "--", "/usr/bin/python3", "-c", peer, upgradeSocket })
            info.ArgumentList.Add(arg);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("runuser did not start");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return new CliResult(process.ExitCode, await stdout, await stderr);
    }

    private static async Task<HttpReply> GetAsync(ListenerStatus listener)
    {
        using var socket = await Clients.ConnectAsync(listener.Bound);
        return await Clients.HttpGetAsync(socket);
    }

    private static async Task<NodeStatus> WaitForAsync(HostProcess host, Func<NodeStatus, bool> condition)
    {
        var status = await host.StatusWhenAsync(condition, TimeSpan.FromSeconds(60));
        if (!condition(status))
            throw new TimeoutException($"the node's status did not reach the expected state within 60s: {status}\n{host.Output}");
        return status;
    }

    private static Task WaitForOutputAsync(HostProcess host, string text) => host.WaitForOutputAsync(text, TimeSpan.FromSeconds(60));
}
