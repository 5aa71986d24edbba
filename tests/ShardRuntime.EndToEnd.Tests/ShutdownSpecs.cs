using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using ShardRuntime.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests;

/// <summary>SIGTERM drains: stop accepting at once, let open connections finish, exit 0.</summary>
public sealed class ShutdownSpecs(ITestOutputHelper output)
{
    [Fact]
    public async Task Sigterm_must_close_the_listening_sockets_promptly_keep_open_connections_served_and_exit_0_once_they_close()
    {
        // A drain deadline far beyond the bound below: the exit must come from the last connection closing.
        await using var host = HostProcess.Start(output, HostProcess.Config(HostServingSpecs.HttpAndEcho, "shard-runtime.shutdown.drain-timeout = 30s"));
        var status = await host.WaitUntilReadyAsync();
        var echo = status.Listener("echo").Bound;
        var http = status.Listener("http").Bound;

        using var client = await Clients.ConnectAsync(echo);
        var before = Encoding.ASCII.GetBytes("before SIGTERM\n");
        Assert.Equal(before, await Clients.EchoAsync(client, before));

        var stopwatch = Stopwatch.StartNew();
        host.Terminate();
        await KernelSockets.WaitForListeningCountAsync(echo, 0, TimeSpan.FromSeconds(5));
        await KernelSockets.WaitForListeningCountAsync(http, 0, TimeSpan.FromSeconds(5));
        output.WriteLine($"listening sockets gone {stopwatch.ElapsedMilliseconds} ms after SIGTERM");

        var refused = await Assert.ThrowsAsync<SocketException>(() => Clients.ConnectAsync(http));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);

        var during = Encoding.ASCII.GetBytes("while draining\n");
        Assert.Equal(during, await Clients.EchoAsync(client, during));
        Assert.False(host.HasExited, "the node exited while a connection was still open");

        // Well past the 2 s after which System.CommandLine would end a process on SIGTERM by default: the drain holds.
        while (stopwatch.Elapsed < TimeSpan.FromSeconds(3.5))
        {
            Assert.False(host.HasExited, $"the node exited {stopwatch.ElapsedMilliseconds} ms after SIGTERM with a connection still open");
            await Task.Delay(100);
        }
        var later = Encoding.ASCII.GetBytes("still draining\n");
        Assert.Equal(later, await Clients.EchoAsync(client, later));

        client.Shutdown(SocketShutdown.Both);
        client.Close();
        stopwatch.Restart();
        var exitCode = await host.WaitForExitAsync(TimeSpan.FromSeconds(15));
        output.WriteLine($"node exited with {exitCode} {stopwatch.ElapsedMilliseconds} ms after the last connection closed");
        Assert.Equal(0, exitCode);
    }
}
