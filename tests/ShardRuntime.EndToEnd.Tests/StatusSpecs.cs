using ShardRuntime.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests;

/// <summary><c>status</c> tells the truth about the node's listeners and shards, and the kernel agrees with it.</summary>
public sealed class StatusSpecs(ITestOutputHelper output)
{
    private const string Listeners = """
            http { endpoint = "127.0.0.1:0", handler = http-ok, shards = 3 }
            echo { endpoint = "127.0.0.1:0", handler = echo, shards = 2 }
        """;

    [Fact]
    public async Task Status_must_list_every_listener_and_every_shard()
    {
        await using var host = HostProcess.Start(output, HostProcess.Config(Listeners));
        var status = await host.WaitUntilReadyAsync();

        Assert.Equal(host.ProcessId, status.ProcessId);
        Assert.False(status.Draining);
        Assert.Equal(["echo", "http"], status.Listeners.Select(l => l.Name).Order());
        foreach (var (name, handler, shards) in new[] { ("http", "http-ok", 3), ("echo", "echo", 2) })
        {
            var listener = status.Listener(name);
            Assert.Equal(handler, listener.Handler);
            Assert.Equal("tcp", listener.Protocol);
            Assert.Equal(shards, listener.DesiredShards);
            Assert.Equal(Enumerable.Range(0, shards), listener.Shards.Select(s => s.ShardId).Order());
            Assert.All(listener.Shards, s => Assert.Equal("accepting", s.State));
            Assert.Equal(shards, listener.Shards.Select(s => s.SocketInode).Distinct().Count());
        }

        var table = await host.RunCliAsync("status");
        output.WriteLine(table.StdOut);
        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.Contains($"node pid {host.ProcessId}", table.StdOut);
        foreach (var listener in status.Listeners)
        {
            Assert.Contains(listener.Bound.ToString(), table.StdOut);
            Assert.Contains($"\n{listener.Name}:\n", table.StdOut);
            foreach (var shard in listener.Shards)
                Assert.Contains(shard.SocketInode.ToString(System.Globalization.CultureInfo.InvariantCulture), table.StdOut);
        }
    }

    [Fact]
    public async Task The_kernel_must_show_one_listening_socket_per_shard_with_the_inodes_status_reports()
    {
        await using var host = HostProcess.Start(output, HostProcess.Config(Listeners));
        var status = await host.WaitUntilReadyAsync();

        foreach (var listener in status.Listeners)
        {
            var kernel = await KernelSockets.ListeningInodesAsync(listener.Bound);
            output.WriteLine($"{listener.Name} {listener.Bound}: status inodes [{string.Join(", ", listener.Shards.Select(s => s.SocketInode))}], " +
                $"ss inodes [{string.Join(", ", kernel)}]");
            Assert.Equal(listener.DesiredShards, kernel.Count);
            Assert.Equal(listener.Shards.Select(s => s.SocketInode).Order(), kernel.Order());
        }
    }
}
