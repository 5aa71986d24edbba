using System.Net.Sockets;
using Akka.TestKit.Xunit2;
using ShardRuntime.Actors.Coordination;
using ShardRuntime.Runtime.Connections;
using ShardRuntime.TestKit;
using Xunit.Abstractions;

namespace HelloShard.Tests;

public sealed class UpperCaseHandlerTests(ITestOutputHelper output) : TestKit(output: output)
{
    [Fact]
    public void Answers_each_whole_line_and_keeps_a_partial_one_for_the_next_read()
    {
        // No socket: the fake drives the handler as the runtime does.
        var connection = new FakeConnectionContext().Connect(new UpperCaseFactory());

        connection.Receive("hello\nwor");                    // one read: a line and a half
        Assert.Equal("HELLO\n", connection.TakeWrittenText());
        connection.Receive("ld\n");                          // "wor" is presented again, followed by "ld\n"
        Assert.Equal("WORLD\n", connection.TakeWrittenText());

        connection.EndInput();                               // the client's FIN: the connection closes gracefully
        Assert.Equal(ConnectionCloseReason.Closed, connection.CloseReason);
    }

    [Fact]
    public async Task Serves_on_a_real_socket_and_scales_under_a_probe()
    {
        // A node in this test's actor system, configured as WithShardRuntime is, on a free port of 127.0.0.1.
        await using var node = await ShardRuntimeTestNode.StartAsync(this, o =>
        {
            o.AddHandler(new UpperCaseFactory());
            o.AddListener("upper", l => { l.EndPoint = "127.0.0.1:0"; l.Handler = "upper"; l.Shards = 1; });
        });
        var probe = CreateTestProbe();
        probe.Send(node.Coordinator, new Coordinator.ScaleTo("upper", 2));
        Assert.Equal(2, probe.ExpectMsg<Coordinator.ScaledTo>(node.Timeout).Shards);

        using var client = new TcpClient();
        await client.ConnectAsync(await node.GetEndPointAsync("upper"));
        await client.GetStream().WriteAsync("hello, shard\n"u8.ToArray());
        var reply = await new StreamReader(client.GetStream()).ReadLineAsync().WaitAsync(node.Timeout);
        Assert.Equal("HELLO, SHARD", reply);
    }
}
