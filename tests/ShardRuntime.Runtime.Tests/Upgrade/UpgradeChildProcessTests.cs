using System.Diagnostics;
using System.Net.Sockets;
using ShardRuntime.Runtime.Upgrade;
using ShardRuntime.Runtime.Sockets;
using static ShardRuntime.Runtime.Tests.Sockets.SocketTestKit;

namespace ShardRuntime.Runtime.Tests.Upgrade;

public sealed class UpgradeChildProcessTests
{
    [Fact]
    public async Task Upgrade_must_let_a_successor_process_serve_connections_queued_before_the_transfer()
    {
        using var kit = UpgradeTestKit.Create();
        var shards = BindShards(2);
        var clients = new List<Socket>();
        Process? child = null;
        try
        {
            int port = PortOf(shards[0]);
            for (int i = 0; i < 20; i++)
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                clients.Add(client);
                await client.ConnectAsync(shards[0].LocalEndPoint!);
            }

            Assert.True(
                await Eventually.TrueAsync(
                    () => KernelSocketTable.ListListening(port, TransportProtocol.Tcp).Sum(e => e.QueueLength) == 20,
                    UpgradeTestKit.StepTimeout),
                "the 20 connections never all waited in the accept queues");

            var serving = kit.ServeOneAsync(UpgradeTestKit.Labelled(shards), batchSize: 1);
            child = StartChild(kit.SocketPath);
            var outcome = await serving.WaitAsync(UpgradeTestKit.TestTimeout);
            Assert.True(outcome.IsCompleted, $"{outcome.Reason}; child stderr: {await StderrOf(child)}");
            Assert.Equal(child.Id, outcome.Peer!.Value.ProcessId);
            Assert.Equal(2, outcome.SocketsPassed);
            Assert.Equal("ready 2", await child.StandardOutput.ReadLineAsync().WaitAsync(UpgradeTestKit.StepTimeout));

            // The old process lets go of its copies; the queued connections are the child's to serve now.
            DisposeAll(shards);
            for (int i = 0; i < clients.Count; i++)
            {
                await UpgradeTestKit.EchoOneByteAsync(clients[i], (byte)i);
            }

            using var late = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await late.ConnectAsync(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port));
            await UpgradeTestKit.EchoOneByteAsync(late, 99);
        }
        finally
        {
            DisposeAll(clients);
            DisposeAll(shards);
            if (child is not null)
            {
                EndByPid(child.Id);
                child.WaitForExit(5000);
                child.Dispose();
            }
        }
    }

    private static Process StartChild(string socketPath)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "fixtures", "successor-child", "SuccessorChild.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: the SuccessorChild fixture was not built and copied");
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        info.ArgumentList.Add(socketPath);
        return Process.Start(info) ?? throw new InvalidOperationException("the SuccessorChild process did not start");
    }

    private static async Task<string> StderrOf(Process child)
    {
        try
        {
            if (!child.HasExited)
            {
                return "(still running)";
            }

            return await child.StandardError.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(2));
        }
        catch (TimeoutException)
        {
            return "(unreadable)";
        }
    }

    private static void EndByPid(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            process.Kill();
        }
        catch (ArgumentException)
        {
            // Already gone.
        }
        catch (InvalidOperationException)
        {
        }
    }
}
