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
        // Every change it made, then the generation of each listener it reloaded.
        Assert.Equal([
            "listener 'added' added: tcp 127.0.0.1:0, handler echo, 1 shard(s)",
            "listener 'drop' removed (it was tcp 127.0.0.1:0, handler http-ok, 2 shard(s)); its connections drain",
            "listener 'keep' changed: shards 1 -> 3",
            "keep: generation 2",
        ], reload.StdOut.Trim().Split('\n'));

        // The removed listener drains its accept queue until it stays quiet, then goes (bounded polling).
        var after = await host.StatusWhenAsync(s => s.Listeners.All(l => l.Name != "drop"), TimeSpan.FromSeconds(30));
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
        Assert.Equal(2, refused.ExitCode); // an invalid configuration, as at start
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
        Assert.True(refused.ExitCode == 2, refused.ToString()); // an invalid configuration, as at start
        Assert.Contains($"{host.ConfigPath}: Setting 'shard-runtime.listeners.e.shard': is not a known key; did you mean 'shard-runtime.listeners.e.shards'?", refused.StdErr);

        Posix.Signal(host.ProcessId, Posix.SigHup);
        await host.WaitForOutputAsync("SIGHUP reload refused", TimeSpan.FromSeconds(30));
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
    public async Task Reload_of_a_config_without_listeners_must_be_refused_saying_how_to_force_it_unless_asked_for()
    {
        await using var host = HostProcess.Start(output, HostProcess.Config("""
                a { endpoint = "127.0.0.1:0", handler = echo, shards = 1 }
                b { endpoint = "127.0.0.1:0", handler = echo, shards = 1 }
            """));
        var a = (await host.WaitUntilReadyAsync()).Listener("a").Bound;
        using var client = await Clients.ConnectAsync(a);

        // An emptied file (a truncated deploy, an editor's accident): refused, with the reason and the way to force it.
        await File.WriteAllTextAsync(host.ConfigPath, "shard-runtime {}\n");
        var refused = await host.RunCliAsync("reload");
        Assert.True(refused.ExitCode == 1, refused.ToString());
        Assert.Contains("declares no listener, so the reload would close every listener this node serves (a, b)", refused.StdErr);
        Assert.Contains("shardruntime reload --allow-empty", refused.StdErr);
        Assert.Equal(["a", "b"], (await host.StatusAsync()).Listeners.Select(l => l.Name));
        Assert.Equal("one"u8.ToArray(), await Clients.EchoAsync(client, "one"u8.ToArray()));

        // SIGHUP is refused the same way, and says so in the log.
        Posix.Signal(host.ProcessId, Posix.SigHup);
        await host.WaitForOutputAsync("SIGHUP reload refused", TimeSpan.FromSeconds(30));
        Assert.Contains("SIGHUP reload refused: configuration not applied, nothing changed: it declares no listener", host.Output);
        Assert.Equal(["a", "b"], (await host.StatusAsync()).Listeners.Select(l => l.Name));
        Assert.Equal("two"u8.ToArray(), await Clients.EchoAsync(client, "two"u8.ToArray()));

        // Asked for explicitly: every listener goes, and the CLI says so.
        var emptied = await host.RunCliAsync("reload", "--allow-empty");
        Assert.True(emptied.ExitCode == 0, emptied.ToString());
        Assert.Contains("listener 'a' removed", emptied.StdOut);
        Assert.Contains("listener 'b' removed", emptied.StdOut);
        await KernelSockets.WaitForListeningCountAsync(a, 0, TimeSpan.FromSeconds(30));
        Assert.DoesNotContain((await host.StatusAsync()).Listeners, l => l.DesiredShards > 0);
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
        var e = (await host.StatusWhenAsync(s => s.Listener("e") is { Generation: 2 } l && l.Accepting.Count() == 2, TimeSpan.FromSeconds(30))).Listener("e");
        Assert.Equal(2, e.Generation);
        Assert.Equal(2, e.Accepting.Count());
        Assert.False(host.HasExited);
        return host.Output;
    }
}
