using System.Text;
using ShardRuntime.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests;

/// <summary>The real host serves its built-in handlers on the listeners of its config.</summary>
public sealed class HostServingSpecs(ITestOutputHelper output)
{
    // Both on port 0: each listener gets its own ephemeral port.
    internal const string HttpAndEcho = """
            http { endpoint = "127.0.0.1:0", handler = http-ok, shards = 2 }
            echo { endpoint = "127.0.0.1:0", handler = echo, shards = 1 }
        """;

    [Fact]
    public async Task Host_must_answer_an_HTTP_1_1_request_with_200_OK_and_body_OK()
    {
        await using var host = HostProcess.Start(output, HostProcess.Config(HttpAndEcho));
        var http = (await host.WaitUntilReadyAsync()).Listener("http");

        using var socket = await Clients.ConnectAsync(http.Bound);
        var reply = await Clients.HttpGetAsync(socket);

        Assert.Equal("HTTP/1.1 200 OK", reply.StatusLine);
        Assert.Equal("OK", reply.Body);
    }

    [Fact]
    public async Task Host_must_answer_two_requests_on_one_keep_alive_connection()
    {
        await using var host = HostProcess.Start(output, HostProcess.Config(HttpAndEcho));
        var http = (await host.WaitUntilReadyAsync()).Listener("http");

        using var socket = await Clients.ConnectAsync(http.Bound);
        var first = await Clients.HttpGetAsync(socket, "/first");
        var second = await Clients.HttpGetAsync(socket, "/second");

        Assert.Equal(("HTTP/1.1 200 OK", "OK"), (first.StatusLine, first.Body));
        Assert.Equal(("HTTP/1.1 200 OK", "OK"), (second.StatusLine, second.Body));
        var after = (await host.StatusAsync()).Listener("http");
        Assert.Equal(1, after.Accepted); // both answers came over the one connection
    }

    [Fact]
    public async Task Host_must_echo_every_byte_sent_to_its_echo_listener()
    {
        await using var host = HostProcess.Start(output, HostProcess.Config(HttpAndEcho));
        var echo = (await host.WaitUntilReadyAsync()).Listener("echo");

        using var socket = await Clients.ConnectAsync(echo.Bound);
        var small = Encoding.ASCII.GetBytes("hello, shards\n");
        Assert.Equal(small, await Clients.EchoAsync(socket, small));

        // Larger than the receive buffer and the pending-write limit: every byte, in order, through backpressure.
        var large = new byte[1024 * 1024];
        new Random(20260101).NextBytes(large);
        Assert.Equal(large, await Clients.EchoAsync(socket, large, TimeSpan.FromSeconds(30)));
    }
}
