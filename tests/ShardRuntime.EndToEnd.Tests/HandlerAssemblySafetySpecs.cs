using System.Diagnostics;
using ShardRuntime.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests;

/// <summary>
/// A handler-assembly that is a FIFO, /dev/zero, a directory or a huge file is a configuration error, found at once: start-up
/// stops with exit code 2 naming the key and what the file is; a reload to it is refused and the node serves on,
/// answering the CLI throughout (it used to freeze on a FIFO, and run out of memory on /dev/zero).
/// </summary>
public sealed class HandlerAssemblySafetySpecs(ITestOutputHelper output) : IDisposable
{
    private const string Key = "shard-runtime.listeners.x.handler-assembly";
    private readonly SpecialFiles.TempDirectory _files = new("sr-e2e-special-");

    private string Make(string kind) => kind switch
    {
        "fifo" => SpecialFiles.Fifo(Path.Combine(_files.Path, "handler.dll")),
        "dev-zero" => "/dev/zero",
        "directory" => Directory.CreateDirectory(Path.Combine(_files.Path, "handler.dll")).FullName,
        "too-big" => SpecialFiles.Sparse(Path.Combine(_files.Path, "handler.dll"), 4L * 1024 * 1024 * 1024),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    private static string Expected(string kind, string path) => kind switch
    {
        "fifo" => $"'{path}' is a FIFO, not a regular file",
        "dev-zero" => "'/dev/zero' is a character device, not a regular file",
        "directory" => $"'{path}' is a directory, not a regular file",
        _ => $"'{path}' is 4.0 GiB, more than the 64 MiB a handler assembly may have",
    };

    private static string WithAssembly(string path) =>
        $"x {{ endpoint = \"127.0.0.1:0\", handler-assembly = \"{path}\", handler-type = \"SampleHandlers.GreetingFactory\", shards = 1 }}";

    [Theory]
    [InlineData("fifo")]
    [InlineData("dev-zero")]
    [InlineData("directory")]
    [InlineData("too-big")]
    public async Task A_handler_assembly_that_is_not_a_regular_file_of_bounded_size_must_stop_start_up_with_exit_code_2_naming_the_key(string kind)
    {
        var path = Make(kind);
        await using var host = HostProcess.Start(output, HostProcess.Config(WithAssembly(path)));

        var exitCode = await host.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.True(exitCode == 2, $"exit code {exitCode}\n{host.Output}");
        Assert.Contains(Key, host.Output);
        Assert.Contains(Expected(kind, path), host.Output);
    }

    [Fact]
    public async Task A_reload_to_a_FIFO_or_dev_zero_must_be_refused_at_once_while_the_node_serves_on_and_answers()
    {
        await using var host = HostProcess.Start(output, HostProcess.Config("""e { endpoint = "127.0.0.1:0", handler = echo, shards = 1 }"""));
        var e = (await host.WaitUntilReadyAsync()).Listener("e").Bound;
        using var client = await Clients.ConnectAsync(e);

        foreach (var kind in new[] { "fifo", "dev-zero" })
        {
            var path = Make(kind);
            await File.WriteAllTextAsync(host.ConfigPath, HostProcess.Config(
                "e { endpoint = \"127.0.0.1:0\", handler = echo, shards = 1 }\n" + WithAssembly(path)));

            var stopwatch = Stopwatch.StartNew();
            var refused = await host.RunCliAsync("reload");
            Assert.True(refused.ExitCode == 2, refused.ToString()); // an invalid configuration, as at start
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(10), $"the refusal took {stopwatch.Elapsed}");
            Assert.Contains(Key, refused.StdErr);
            Assert.Contains(Expected(kind, path), refused.StdErr);

            var status = await host.StatusAsync();
            Assert.Equal(["e"], status.Listeners.Select(l => l.Name));
            Assert.Equal("still"u8.ToArray(), await Clients.EchoAsync(client, "still"u8.ToArray()));
        }
    }

    public void Dispose() => _files.Dispose();
}
