using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ShardRuntime.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests;

/// <summary>A port the node cannot join stops start-up with a message that says who holds it.</summary>
public sealed class PortConflictSpecs(ITestOutputHelper output)
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_port_held_by_a_socket_without_SO_REUSEPORT_must_stop_start_up_saying_so()
    {
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        holder.Bind(new IPEndPoint(IPAddress.Loopback, 0)); // no reuse options at all
        holder.Listen();
        var port = ((IPEndPoint)holder.LocalEndPoint!).Port;

        await using var host = HostProcess.Start(output, HostProcess.Config(
            $$"""http { endpoint = "127.0.0.1:{{port}}", handler = http-ok, shards = 2 }"""));
        var exitCode = await host.WaitForExitAsync(ExitTimeout);

        output.WriteLine($"exit code {exitCode}");
        Assert.True(exitCode != 0, host.Output);
        Assert.Contains("without SO_REUSEPORT", host.Output);
        Assert.Contains($"127.0.0.1:{port}", host.Output);
    }

    [SkippableFact]
    public async Task A_port_held_with_SO_REUSEPORT_by_another_user_must_stop_start_up_naming_that_user()
    {
        Skip.IfNot(Posix.IsRoot, "needs root to hold the port as user nobody through runuser");
        Skip.IfNot(File.Exists("/usr/bin/python3"), "needs /usr/bin/python3 to hold the port as another user");
        Skip.IfNot(File.Exists("/usr/sbin/runuser") || File.Exists("/usr/bin/runuser"), "needs runuser (util-linux) to switch to user nobody");

        const string holdPort = """
            import socket, sys
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            s.bind(("127.0.0.1", 0))
            s.listen()
            print(s.getsockname()[1], flush=True)
            sys.stdin.read()
            """;
        var info = new ProcessStartInfo("runuser")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "-u", "nobody", "--", "/usr/bin/python3", "-c", holdPort })
            info.ArgumentList.Add(arg);
        // Read through events: the port line must arrive while the holder keeps running (it exits when stdin closes).
        var holderPort = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var holderErrors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var holder = new Process { StartInfo = info };
        holder.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) holderPort.TrySetResult(0);
            else holderPort.TrySetResult(int.TryParse(e.Data, out var p) ? p : -1);
        };
        holder.ErrorDataReceived += (_, e) => { if (e.Data is not null) holderErrors.Enqueue(e.Data); };
        holder.Start();
        holder.BeginOutputReadLine();
        holder.BeginErrorReadLine();
        try
        {
            var port = await holderPort.Task.WaitAsync(TimeSpan.FromSeconds(20));
            Assert.True(port > 0, $"the port holder printed no port; stderr: {string.Join('\n', holderErrors)}");
            output.WriteLine($"user nobody (runuser pid {holder.Id}) holds 127.0.0.1:{port} with SO_REUSEPORT");

            await using var host = HostProcess.Start(output, HostProcess.Config(
                $$"""http { endpoint = "127.0.0.1:{{port}}", handler = http-ok, shards = 2 }"""));
            var exitCode = await host.WaitForExitAsync(ExitTimeout);

            output.WriteLine($"exit code {exitCode}");
            Assert.True(exitCode != 0, host.Output);
            Assert.Contains("nobody", host.Output);
            Assert.Contains("same effective user", host.Output);
        }
        finally
        {
            holder.StandardInput.Close(); // python reads stdin to its end, then exits
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await holder.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                holder.Kill(entireProcessTree: true);
                await holder.WaitForExitAsync(CancellationToken.None);
            }
        }
    }
}
