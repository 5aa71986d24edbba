using System.Text;
using ShardRuntime.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests;

/// <summary><c>reload</c> reads the config file again: listeners are added, removed and reconciled; a broken file changes nothing.</summary>
public sealed class ConfigReloadSpecs(ITestOutputHelper output)
{
    [Fact]
    public async Task Reload_must_apply_the_edited_config_file_and_refuse_a_broken_one_changing_nothing()
    {
        await using var host = HostProcess.Start(output, HostProcess.Config("""
                keep { endpoint = "127.0.0.1:0", handler = echo, shards = 1 }
                drop { endpoint = "127.0.0.1:0", handler = http-ok, shards = 2 }
            """));
        var before = await host.WaitUntilReadyAsync();
        var keep = before.Listener("keep").Bound;
        var drop = before.Listener("drop").Bound;
        using var client = await Clients.ConnectAsync(keep);
        Assert.Equal("one"u8.ToArray(), await Clients.EchoAsync(client, "one"u8.ToArray()));

        // keep grows to 3 shards, drop goes, added arrives.
        await File.WriteAllTextAsync(host.ConfigPath, HostProcess.Config("""
                keep { endpoint = "127.0.0.1:0", handler = echo, shards = 3 }
                added { endpoint = "127.0.0.1:0", handler = echo, shards = 1 }
            """));
        var reload = await host.RunCliAsync("reload");
        Assert.True(reload.ExitCode == 0, reload.ToString());
        Assert.Equal("keep: generation 2", reload.StdOut.Trim());

        // The removed listener drains its accept queue until it stays quiet, then goes (bounded polling).
        var after = await host.StatusAsync();
        for (var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30); after.Listeners.Any(l => l.Name == "drop") && DateTime.UtcNow < deadline;)
        {
            await Task.Delay(100);
            after = await host.StatusAsync();
        }
        Assert.Equal(["added", "keep"], after.Listeners.Select(l => l.Name).Order());
        Assert.Equal(keep, after.Listener("keep").Bound); // same port, three sockets in its group now
        await KernelSockets.WaitForListeningCountAsync(keep, 3, TimeSpan.FromSeconds(15));
        await KernelSockets.WaitForListeningCountAsync(drop, 0, TimeSpan.FromSeconds(15));
        using (var added = await Clients.ConnectAsync(after.Listener("added").Bound))
            Assert.Equal("new"u8.ToArray(), await Clients.EchoAsync(added, "new"u8.ToArray()));
        Assert.Equal("two"u8.ToArray(), await Clients.EchoAsync(client, "two"u8.ToArray())); // untouched

        // A broken edit is refused with the key and the file, and nothing changes.
        await File.WriteAllTextAsync(host.ConfigPath, HostProcess.Config("""
                keep { endpoint = "127.0.0.1:0", handler = echo, shards = 1, idle-timeout = banana }
            """));
        var refused = await host.RunCliAsync("reload");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("shard-runtime.listeners.keep.idle-timeout", refused.StdErr);
        Assert.Contains(host.ConfigPath, refused.StdErr);
        var unchanged = await host.StatusAsync();
        Assert.Equal(["added", "keep"], unchanged.Listeners.Select(l => l.Name).Order());
        Assert.Equal(3, unchanged.Listener("keep").Accepting.Count());
        Assert.Equal("three"u8.ToArray(), await Clients.EchoAsync(client, "three"u8.ToArray()));
    }

    [Fact]
    public async Task Reload_and_sighup_must_refuse_a_file_with_an_unknown_key_naming_it_and_serve_on_unchanged()
    {
        await using var host = HostProcess.Start(output, HostProcess.Config("""
                e { endpoint = "127.0.0.1:0", handler = echo, shards = 1 }
            """));
        var e = (await host.WaitUntilReadyAsync()).Listener("e");
        using var client = await Clients.ConnectAsync(e.Bound);

        // A typo: `shard` for `shards`, in an edit that would also add a listener.
        await File.WriteAllTextAsync(host.ConfigPath, HostProcess.Config("""
                e { endpoint = "127.0.0.1:0", handler = echo, shard = 3 }
                added { endpoint = "127.0.0.1:0", handler = echo }
            """));
        var refused = await host.RunCliAsync("reload");
        Assert.True(refused.ExitCode == 1, refused.ToString());
        Assert.Contains($"{host.ConfigPath}: Setting 'shard-runtime.listeners.e.shard': is not a known key; did you mean 'shard-runtime.listeners.e.shards'?", refused.StdErr);

        Posix.Signal(host.ProcessId, Posix.SigHup);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!host.Output.Contains("SIGHUP reload refused", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
            await Task.Delay(100);
        Assert.Contains("SIGHUP reload refused", host.Output);
        Assert.Contains("shard-runtime.listeners.e.shard", host.Output[host.Output.IndexOf("SIGHUP reload refused", StringComparison.Ordinal)..]);

        var unchanged = await host.StatusAsync();
        Assert.Equal(["e"], unchanged.Listeners.Select(l => l.Name));
        Assert.Equal(e.Bound, unchanged.Listener("e").Bound);
        Assert.Single(unchanged.Listener("e").Accepting);
        Assert.Equal(1, unchanged.Listener("e").Generation);
        Assert.Equal("still"u8.ToArray(), await Clients.EchoAsync(client, "still"u8.ToArray()));
        Assert.False(host.HasExited);
    }

    [Fact]
    public Task Sighup_must_reload_like_the_reload_command() => SighupReloadsAsync(launcher: null);

    [Fact]
    public async Task Sighup_must_reload_a_node_started_with_sighup_ignored_as_under_nohup()
    {
        // nohup execs the node (same PID) with SIGHUP ignored; .NET alone would keep it ignored and never reload.
        var nodeOutput = await SighupReloadsAsync(launcher: ["nohup"]);
        Assert.Contains("SIGHUP was ignored when the node started", nodeOutput);
    }

    /// <summary>Starts a node (through <paramref name="launcher"/>), edits its file, sends SIGHUP, waits for the reload; returns the node's output.</summary>
    private async Task<string> SighupReloadsAsync(IReadOnlyList<string>? launcher)
    {
        await using var host = HostProcess.Start(output, HostProcess.Config("""
                e { endpoint = "127.0.0.1:0", handler = echo, shards = 1 }
            """), launcher: launcher);
        await host.WaitUntilReadyAsync();
        await File.WriteAllTextAsync(host.ConfigPath, HostProcess.Config("""
                e { endpoint = "127.0.0.1:0", handler = echo, shards = 2 }
            """));

        Posix.Signal(host.ProcessId, Posix.SigHup);

        // Bounded polling of status until the reload shows (a signal has no reply to wait for).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        ListenerStatus e;
        do
        {
            e = (await host.StatusAsync()).Listener("e");
            if (e.Generation == 2 && e.Accepting.Count() == 2) break;
            await Task.Delay(100);
        }
        while (DateTime.UtcNow < deadline);
        Assert.Equal(2, e.Generation);
        Assert.Equal(2, e.Accepting.Count());
        Assert.False(host.HasExited);
        return host.Output;
    }
}
