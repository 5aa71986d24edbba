using System.Net;
using System.Net.Sockets;
using System.Text;
using ShardRuntime.Runtime.Handlers;
using Xunit.Abstractions;

namespace ShardRuntime.TestKit.Tests;

/// <summary>
/// The fake datagram socket against a real node's UDP listener, declared in the test kit's own HOCON (which a
/// <see cref="ShardRuntimeTestNode"/> reads under its options): the built-in udp-echo answers the same peer with the same
/// bytes under both.
/// </summary>
public sealed class DatagramParitySpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(
    """shard-runtime.listeners.udp { endpoint = "127.0.0.1:0", protocol = udp, handler = udp-echo, shards = 2 }""", output: output)
{
    [Fact]
    public async Task The_fake_must_answer_as_a_real_udp_listener_does()
    {
        await using var node = await ShardRuntimeTestNode.StartAsync(this, _ => { }, Clients.Timeout);
        var listener = await node.GetListenerAsync("udp");
        Assert.Equal("udp", listener.Protocol);
        using var client = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var clientEndPoint = (IPEndPoint)client.Client.LocalEndPoint!;

        var fake = new FakeDatagramContext().Start(new UdpEchoHandlerFactory()).Receive("ping", clientEndPoint);
        await client.SendAsync(Encoding.UTF8.GetBytes("ping"), IPEndPoint.Parse(listener.EndPoint));
        using var cts = new CancellationTokenSource(Clients.Timeout);
        var real = await client.ReceiveAsync(cts.Token);

        var sent = Assert.Single(fake.Sent);
        Assert.Equal(clientEndPoint, sent.Peer);
        Assert.Equal(real.Buffer, sent.Payload);
        Assert.Equal(IPEndPoint.Parse(listener.EndPoint), real.RemoteEndPoint);
    }
}
