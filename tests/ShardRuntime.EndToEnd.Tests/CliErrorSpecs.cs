using System.Net.Sockets;
using ShardRuntime.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests;

/// <summary>The command-line tool's failures: stable exit codes and a reason on stderr.</summary>
public sealed class CliErrorSpecs(ITestOutputHelper output)
{
    private const string Listeners = """
            http { endpoint = "127.0.0.1:0", handler = http-ok, shards = 2 }
        """;

    [Fact]
    public async Task Scale_of_an_unknown_listener_must_exit_1_with_the_reason_on_stderr_and_change_nothing()
    {
        await using var host = HostProcess.Start(output, HostProcess.Config(Listeners));
        var http = (await host.WaitUntilReadyAsync()).Listener("http");

        var result = await host.RunCliAsync("scale", "nope", "2");

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("nope", result.StdErr);
        Assert.Contains("no listener named", result.StdErr);
        Assert.Equal("", result.StdOut.Trim());
        Assert.Equal(2, (await KernelSockets.ListeningInodesAsync(http.Bound)).Count);
    }

    [Fact]
    public async Task Scale_to_zero_shards_must_exit_1_with_the_reason_on_stderr_and_keep_the_shards()
    {
        await using var host = HostProcess.Start(output, HostProcess.Config(Listeners));
        var http = (await host.WaitUntilReadyAsync()).Listener("http");

        var result = await host.RunCliAsync("scale", "http", "0");

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.StartsWith("error: ", result.StdErr);
        // The refusal says what the count may be (as the help does) and the way to stop serving a listener.
        Assert.Contains("1 to 256", result.StdErr);
        Assert.Contains("remove it from the config file and run `shardruntime reload`", result.StdErr);
        Assert.Contains("listener remove http --cluster", result.StdErr);
        Assert.Equal(2, (await host.StatusAsync()).Listener("http").Accepting.Count());
        Assert.Equal(2, (await KernelSockets.ListeningInodesAsync(http.Bound)).Count);

        var help = await HostCli.RunAsync(["scale", "--help"]);
        Assert.Contains("1 to 256", help.StdOut);
        Assert.DoesNotContain("0 or more", help.StdOut + help.StdErr);
    }

    /// <summary>
    /// <c>--takeover</c> is the earlier name of <c>--upgrade-from</c>: a node of an earlier release starts its successor
    /// (the binary on disk now) with it, so both must parse; with no node serving the path the successor exits 1 naming it.
    /// </summary>
    [Theory]
    [InlineData("--upgrade-from")]
    [InlineData("--takeover")]
    public async Task Run_as_a_successor_with_no_predecessor_at_the_path_must_exit_1_naming_the_upgrade_socket(string flag)
    {
        var directory = Directory.CreateTempSubdirectory("sr-e2e-successor-");
        try
        {
            var config = Path.Combine(directory.FullName, "node.conf");
            File.WriteAllText(config, HostProcess.Config(Listeners));
            var missing = Path.Combine(directory.FullName, "no-predecessor.sock");

            var result = await HostCli.RunAsync(["run", "--config", config, "--control-socket", Path.Combine(directory.FullName, "control.sock"), flag, missing]);

            Assert.True(result.ExitCode == 1, result.ToString());
            Assert.Contains($"Cannot connect to the upgrade socket {missing}", result.StdOut + result.StdErr);
            Assert.Contains("the running node keeps its sockets", result.StdOut + result.StdErr);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task An_unknown_command_must_exit_2_with_usage_on_stderr()
    {
        var result = await HostCli.RunAsync(["frobnicate", "--control-socket", Path.Combine(Path.GetTempPath(), "sr-e2e-none.sock")]);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("frobnicate", result.StdErr);
    }

    [Fact]
    public async Task Scale_with_a_role_but_without_cluster_must_exit_2_saying_the_role_needs_it()
    {
        var result = await HostCli.RunAsync(["scale", "http", "2", "--role", "edge", "--control-socket", Path.Combine(Path.GetTempPath(), "sr-e2e-none.sock")]);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("--role needs --cluster", result.StdErr);
    }

    [Fact]
    public async Task Status_where_no_socket_exists_must_exit_3_saying_no_node_is_running()
    {
        var directory = Directory.CreateTempSubdirectory("sr-e2e-");
        try
        {
            var path = Path.Combine(directory.FullName, "control.sock");
            var result = await HostCli.RunAsync(["status", "--control-socket", path]);

            Assert.True(result.ExitCode == 3, result.ToString());
            Assert.Contains("no node is running", result.StdErr);
            Assert.Contains(path, result.StdErr);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Status_on_a_socket_file_left_by_a_node_that_is_gone_must_exit_3_saying_no_node_is_running()
    {
        var directory = Directory.CreateTempSubdirectory("sr-e2e-");
        try
        {
            var path = Path.Combine(directory.FullName, "control.sock");
            // Bound but never listening: connect() gets ECONNREFUSED, as on the file of a node that is gone.
            // (Kept open: .NET unlinks the file when the socket that bound it is disposed.)
            using var stale = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            stale.Bind(new UnixDomainSocketEndPoint(path));
            Assert.True(File.Exists(path));

            var result = await HostCli.RunAsync(["status", "--control-socket", path]);

            Assert.True(result.ExitCode == 3, result.ToString());
            Assert.Contains("no node is running", result.StdErr);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
