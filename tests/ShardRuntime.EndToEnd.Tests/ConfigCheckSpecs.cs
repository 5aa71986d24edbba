using System.Net;
using System.Net.Sockets;
using ShardRuntime.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests;

/// <summary><c>shardruntime check --config FILE</c> validates a file without starting a node: every problem, exit 2; none, a summary and 0.</summary>
public sealed class ConfigCheckSpecs(ITestOutputHelper output) : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("sr-check-");

    public void Dispose() => _directory.Delete(recursive: true);

    private async Task<CliResult> CheckAsync(string configText)
    {
        var path = Path.Combine(_directory.FullName, "node.conf");
        await File.WriteAllTextAsync(path, configText);
        var result = await HostCli.RunAsync(["check", "--config", path]);
        output.WriteLine(result.ToString());
        return result;
    }

    private string ConfigPath => Path.Combine(_directory.FullName, "node.conf");

    [Fact]
    public async Task A_good_file_must_pass_with_a_summary_of_its_listeners_and_handlers()
    {
        var assembly = Path.Combine(AppContext.BaseDirectory, "fixtures", "v1", "SampleHandlers.dll");
        var result = await CheckAsync(HostProcess.Config($$"""
                http { endpoint = "127.0.0.1:0", handler = http-ok, shards = 2 }
                custom { endpoint = "127.0.0.1:0", handler-assembly = "{{assembly}}", handler-type = "SampleHandlers.GenerationHttpHandler", shards = 1 }
            """));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"{ConfigPath}: ok, 2 listener(s)", result.StdOut);
        Assert.Contains("http: 127.0.0.1:0/tcp, 2 shard(s), handler http-ok", result.StdOut);
        Assert.Contains($"custom: 127.0.0.1:0/tcp, 1 shard(s), handler SampleHandlers.GenerationHttpHandler from {assembly}", result.StdOut);
        Assert.Equal("", result.StdErr);
    }

    [Fact]
    public async Task A_file_with_three_problems_must_fail_with_exit_code_2_listing_all_three()
    {
        // A port held by a socket of another server (no SO_REUSEPORT): a node could not bind it.
        using var other = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        other.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        other.Listen();
        var taken = (IPEndPoint)other.LocalEndPoint!;

        var result = await CheckAsync(HostProcess.Config($$"""
                http { endpoint = "127.0.0.1:0", handler = http-ok, max-conections = 10 }
                echo { endpoint = "127.0.0.1:0", handler = ecko }
                busy { endpoint = "{{taken}}", handler = echo }
            """));

        Assert.True(result.ExitCode == 2, result.ToString());
        var errors = result.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("error: ", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, errors.Count);
        Assert.Contains(errors, e => e.Contains($"{ConfigPath}: Setting 'shard-runtime.listeners.http.max-conections'", StringComparison.Ordinal)
                                     && e.Contains("did you mean 'shard-runtime.listeners.http.max-connections'?", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("Setting 'shard-runtime.listeners.echo.handler': unknown handler 'ecko'; did you mean 'echo'?", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains($"listener 'busy': Cannot bind {taken}/tcp", StringComparison.Ordinal)
                                     && e.Contains("without SO_REUSEPORT", StringComparison.Ordinal));
        Assert.Contains("3 problem(s) found", result.StdErr);
        Assert.Equal("", result.StdOut);
    }

    [Fact]
    public async Task A_missing_handler_assembly_and_a_broken_file_must_be_problems()
    {
        var notAnAssembly = Path.Combine(_directory.FullName, "broken.dll");
        await File.WriteAllTextAsync(notAnAssembly, "not an assembly");

        var result = await CheckAsync(HostProcess.Config($$"""
                a { endpoint = "127.0.0.1:0", handler-assembly = "{{_directory.FullName}}/missing.dll", handler-type = "X.Y" }
                b { endpoint = "127.0.0.1:0", handler-assembly = "{{notAnAssembly}}", handler-type = "X.Y" }
            """));

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("Setting 'shard-runtime.listeners.a.handler-assembly'", result.StdErr);
        Assert.Contains("missing.dll' does not exist", result.StdErr);
        Assert.Contains("Setting 'shard-runtime.listeners.b.handler-assembly'", result.StdErr);
        Assert.Contains("is not a .NET assembly", result.StdErr);
    }

    [Fact]
    public async Task A_HOCON_syntax_error_must_fail_with_exit_code_2_naming_the_file()
    {
        var result = await CheckAsync("shard-runtime { listeners { http { endpoint = \"127.0.0.1:0\" }");

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains($"error: {ConfigPath}: is not valid HOCON", result.StdErr);
    }

    [Fact]
    public async Task An_endpoint_served_by_a_running_node_of_this_user_must_pass_naming_the_node()
    {
        // `check` before `reload` or `upgrade`: the running node holds the file's endpoints with SO_REUSEPORT.
        await using var host = HostProcess.Start(output, HostProcess.Config("""
                http { endpoint = "127.0.0.1:0", handler = http-ok, shards = 2 }
            """));
        var http = (await host.WaitUntilReadyAsync()).Listener("http");

        var result = await CheckAsync(HostProcess.Config($$"""
                http { endpoint = "{{http.Bound}}", handler = http-ok, shards = 2 }
            """));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"endpoint served by 2 SO_REUSEPORT socket(s) of this user, held by pid {host.ProcessId} (", result.StdOut);
        // The probe joined no group: the node still has exactly its own two sockets listening, and answers.
        await KernelSockets.WaitForListeningCountAsync(http.Bound, 2, TimeSpan.FromSeconds(15));
        using var client = await Clients.ConnectAsync(http.Bound);
        Assert.Equal("HTTP/1.1 200 OK", (await Clients.HttpGetAsync(client)).StatusLine);
    }
}
