using System.Net;
using System.Net.Sockets;
using ShardRuntime.Runtime.Datagrams;
using ShardRuntime.Runtime.Handlers;

namespace ShardRuntime.Runtime.Tests.Datagrams;

public sealed class UdpEchoHandlerTests
{
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Udp_echo_must_reply_to_each_datagram_with_its_bytes_over_a_real_socket()
    {
        using var server = new DatagramTestServer(new UdpEchoHandlerFactory());
        using var client = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var sizes = new[] { 0, 1, 512, 1_500, 60_000 };

        foreach (var size in sizes)
        {
            var sent = new byte[size];
            new Random(size).NextBytes(sent);
            await client.SendAsync(sent, server.EndPoint);

            var reply = await client.ReceiveAsync().WaitAsync(ReplyTimeout);

            Assert.Equal(server.EndPoint, reply.RemoteEndPoint);
            Assert.Equal(sent, reply.Buffer);
        }

        Assert.Equal(0, server.Failures);
    }

    [Fact]
    public void Udp_echo_factory_must_be_known_as_udp_echo()
    {
        Assert.Equal("udp-echo", new UdpEchoHandlerFactory().Name);
    }

    [Fact]
    public async Task A_throwing_handler_must_lose_only_its_datagram_and_keep_serving()
    {
        using var server = new DatagramTestServer(new ThrowOnFirstByte());
        using var client = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));

        await client.SendAsync(new byte[] { 1, 2 }, server.EndPoint);   // throws after queuing a reply: nothing is sent
        await client.SendAsync(new byte[] { 0, 7 }, server.EndPoint);

        var reply = await client.ReceiveAsync().WaitAsync(ReplyTimeout);

        Assert.Equal(new byte[] { 0, 7 }, reply.Buffer);
        Assert.Equal(1, server.Failures);
        Assert.IsType<InvalidDataException>(server.LastFailure);
    }

    /// <summary>Echoes, but throws after queuing the echo when the first byte is 1.</summary>
    private sealed class ThrowOnFirstByte : IDatagramHandlerFactory, IDatagramHandler
    {
        public string Name => "throw-on-one";

        public IDatagramHandler Create(IDatagramContext context) => this;

        public void OnDatagram(IDatagramContext context, ReadOnlySpan<byte> datagram, SocketAddress peer)
        {
            context.Reply(datagram);
            if (datagram is [1, ..])
                throw new InvalidDataException("first byte 1");
        }
    }
}
