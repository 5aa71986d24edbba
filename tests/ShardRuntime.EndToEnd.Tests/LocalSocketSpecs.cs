using System.Diagnostics;
using System.Net;
using ShardRuntime.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests;

/// <summary>
/// The node's local sockets: a deleted control socket file is bound again (the CLI finds the node again), and a second
/// node started on a running node's configuration refuses to start before it binds anything.
/// </summary>
public sealed class LocalSocketSpecs(ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static string FixedPortConfig(int port, string more = "") => HostProcess.Config(
        $$"""http { endpoint = "127.0.0.1:{{port}}", handler = http-ok, shards = 2 }""", more);

    /// <summary>Polls <c>status</c> until it succeeds; returns how long that took, or throws after <see cref="Bound"/>.</summary>
    private static async Task<TimeSpan> WaitUntilStatusWorksAsync(HostProcess node)
    {
        var stopwatch = Stopwatch.StartNew();
        var status = await Eventually.ValueAsync(() => node.RunCliAsync("status"), s => s.ExitCode == 0, Bound, TimeSpan.FromMilliseconds(100));
        if (status.ExitCode != 0)
            throw new TimeoutException($"status still fails after {Bound.TotalSeconds}s: {status}\n{node.Output}");
        return stopwatch.Elapsed;
    }

    [Fact]
    public async Task A_deleted_control_socket_file_must_be_bound_again_within_the_check_interval_so_that_status_works()
    {
        await using var node = HostProcess.Start(output, HostProcess.Config("""http { endpoint = "127.0.0.1:0", handler = http-ok, shards = 1 }"""));
        await node.WaitUntilReadyAsync();

        File.Delete(node.ControlSocket);
        var took = await WaitUntilStatusWorksAsync(node);

        output.WriteLine($"status works again {took.TotalSeconds:0.00}s after the file was deleted");
        Assert.Contains($"socket file {node.ControlSocket} was deleted; bound again", node.Output);
        Assert.True(File.Exists(node.ControlSocket));
    }

    [Fact]
    public async Task A_deleted_control_socket_file_must_be_bound_again_on_SIGHUP()
    {
        // Checked once an hour: only SIGHUP brings it back within the test.
        await using var node = HostProcess.Start(output, HostProcess.Config(
            """http { endpoint = "127.0.0.1:0", handler = http-ok, shards = 1 }""", "shard-runtime.control.check-interval = 1h"));
        await node.WaitUntilReadyAsync();

        File.Delete(node.ControlSocket);
        var lost = await node.RunCliAsync("status");
        Assert.Equal(3, lost.ExitCode); // "no node is running": what the fault looked like
        Posix.Signal(node.ProcessId, Posix.SigHup);
        await WaitUntilStatusWorksAsync(node);

        Assert.Contains($"socket file {node.ControlSocket} was deleted; bound again", node.Output);
    }

    [Fact]
    public async Task A_second_node_on_the_same_configuration_and_control_path_must_exit_1_before_binding_anything()
    {
        var port = Ports.FreeLoopback();
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        await using var first = HostProcess.Start(output, FixedPortConfig(port));
        await first.WaitUntilReadyAsync();
        var before = await KernelSockets.ListeningInodesAsync(endPoint);
        Assert.Equal(2, before.Count);

        await using var second = HostProcess.Start(output, FixedPortConfig(port), controlSocket: first.ControlSocket);
        var samples = await SampleUntilExitAsync(second, endPoint);
        var exitCode = await second.WaitForExitAsync(Bound);

        Assert.Equal(1, exitCode);
        Assert.Contains($"pid {first.ProcessId}", second.Output);
        Assert.Contains(first.ControlSocket, second.Output);
        Assert.All(samples, inodes => Assert.Equal(before.Order(), inodes.Order()));
        Assert.DoesNotContain("listening on", second.Output, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0, (await first.RunCliAsync("status")).ExitCode);
    }

    [Fact]
    public async Task A_second_node_on_the_same_endpoints_with_another_control_path_must_refuse_naming_the_endpoint_and_the_holder()
    {
        var port = Ports.FreeLoopback();
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        await using var first = HostProcess.Start(output, FixedPortConfig(port));
        await first.WaitUntilReadyAsync();
        var before = await KernelSockets.ListeningInodesAsync(endPoint);

        await using var second = HostProcess.Start(output, FixedPortConfig(port)); // its own control socket path
        var samples = await SampleUntilExitAsync(second, endPoint);
        var exitCode = await second.WaitForExitAsync(Bound);

        Assert.Equal(1, exitCode);
        Assert.Contains($"127.0.0.1:{port}", second.Output);
        Assert.Contains($"pid {first.ProcessId}", second.Output);
        Assert.All(samples, inodes => Assert.Equal(before.Order(), inodes.Order()));
        Assert.Equal(2, (await KernelSockets.ListeningInodesAsync(endPoint)).Count);
    }

    /// <summary>The listening sockets on <paramref name="endPoint"/>, read again and again until <paramref name="node"/> exits (or <see cref="Bound"/>).</summary>
    private async Task<List<IReadOnlyList<long>>> SampleUntilExitAsync(HostProcess node, IPEndPoint endPoint)
    {
        var samples = new List<IReadOnlyList<long>>();
        var stopwatch = Stopwatch.StartNew();
        while (!node.HasExited && stopwatch.Elapsed < Bound)
            samples.Add(await KernelSockets.ListeningInodesAsync(endPoint));
        output.WriteLine($"{samples.Count} samples of the kernel's table on {endPoint} while the second node ran");
        return samples;
    }
}
