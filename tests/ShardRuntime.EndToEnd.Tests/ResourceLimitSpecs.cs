using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using ShardRuntime.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests;

/// <summary>Running out of file descriptors (EMFILE) pauses accepting; it never kills a listener.</summary>
public sealed class ResourceLimitSpecs(ITestOutputHelper output)
{
    [Fact]
    public async Task A_node_out_of_file_descriptors_must_back_off_and_resume_accepting_when_some_are_free()
    {
        await using var host = HostProcess.Start(output, HostProcess.Config(
            """echo { endpoint = "127.0.0.1:0", handler = echo, shards = 1, accept-backoff = 20ms, accept-backoff-max = 200ms }"""));
        var echo = (await host.WaitUntilReadyAsync()).Listener("echo").Bound;

        // Leave the node 24 descriptors to spare (set on the running process, so its start-up is unaffected); it holds
        // 16 of those back for itself, so it must not crash once connections have taken the rest.
        var inUse = Directory.GetFiles($"/proc/{host.ProcessId}/fd").Length;
        var limit = inUse + 24;
        await RunAsync("prlimit", "--pid", host.ProcessId.ToString(), $"--nofile={limit}:{limit}");
        output.WriteLine($"node uses {inUse} descriptors; limit set to {limit}");

        // More connections than descriptors left: the kernel completes them into the backlog; the node accepts what it can.
        var clients = new List<Socket>();
        for (var i = 0; i < 48; i++)
        {
            var client = await Clients.ConnectAsync(echo);
            await client.SendAsync(Encoding.ASCII.GetBytes($"{i:D4}"));
            clients.Add(client);
        }

        // Which ones were answered: wait (bounded) until the node has hit the limit and logged its back-off.
        await Eventually.TrueAsync(() => host.Output.Contains("TooManyOpenSockets", StringComparison.Ordinal), TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(50));
        Assert.Contains("pausing accepts", host.Output);
        Assert.False(host.HasExited, $"the node died at its descriptor limit:\n{host.Output}");
        var answered = new List<Socket>();
        var waiting = new List<Socket>();
        foreach (var client in clients)
            (client.Available >= 4 || client.Poll(50_000, SelectMode.SelectRead) ? answered : waiting).Add(client);
        output.WriteLine($"{answered.Count} answered, {waiting.Count} waiting at the limit");
        Assert.NotEmpty(waiting);
        Assert.False(host.HasExited);

        // Free descriptors: the node resumes by itself and serves every waiting connection, in full.
        foreach (var client in answered) client.Dispose();
        for (var i = 0; i < clients.Count; i++)
        {
            if (!waiting.Contains(clients[i])) continue;
            var expected = Encoding.ASCII.GetBytes($"{i:D4}");
            var reply = new byte[4];
            var read = 0;
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (read < 4)
            {
                var n = await clients[i].ReceiveAsync(reply.AsMemory(read), SocketFlags.None, cts.Token);
                Assert.NotEqual(0, n);
                read += n;
            }
            Assert.Equal(expected, reply);
            clients[i].Dispose();
        }

        // And the listener is as good as new.
        using var next = await Clients.ConnectAsync(echo);
        Assert.Equal("next"u8.ToArray(), await Clients.EchoAsync(next, "next"u8.ToArray()));
    }

    private static async Task RunAsync(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        finally
        {
            if (!process.HasExited) process.Kill();
        }
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', args)} failed: {await process.StandardError.ReadToEndAsync()}");
    }
}
