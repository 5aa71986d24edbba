using System.Net;
using System.Net.Sockets;
using ShardRuntime.Runtime.Sockets;
using static ShardRuntime.Runtime.Tests.Sockets.SocketTestKit;
using static ShardRuntime.Runtime.Tests.Steering.SteeringTestKit;

namespace ShardRuntime.Runtime.Tests.Steering;

public sealed class ReuseportSteeringTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Steering_to_one_position_must_route_every_new_connection_to_that_socket(int position)
    {
        var shards = BindShards(4);
        var clients = new List<Socket>();
        try
        {
            ReuseportSteering.Attach(shards[0], ReuseportSteeringProgram.Create(4, [position]));
            clients = await ConnectAsync(shards[0].LocalEndPoint!, 100);

            int[] queued = await QueuedPerMemberAsync(shards, 100);
            Assert.Equal(Enumerable.Range(0, 4).Select(i => i == position ? 100 : 0), queued);

            // The kernel's table agrees with TCP_INFO about the queue.
            var table = KernelSocketTable.ListListening(PortOf(shards[0]), TransportProtocol.Tcp);
            Assert.Equal(100, table.Single(e => e.Inode == KernelSocketTable.GetInode(shards[position])).QueueLength);
        }
        finally
        {
            DisposeAll(clients);
            DisposeAll(shards);
        }
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public async Task Steering_must_send_each_connection_to_the_position_its_source_port_maps_to(string address)
    {
        var shards = BindShardsOn(4, address);
        var clients = new List<Socket>();
        try
        {
            var program = ReuseportSteeringProgram.Create(4, [3, 1]);
            ReuseportSteering.Attach(shards[2], program);
            clients = await ConnectAsync(shards[0].LocalEndPoint!, 60);
            await QueuedPerMemberAsync(shards, 60);

            var acceptedPorts = AcceptAll(shards);
            Assert.Empty(acceptedPorts[0]);
            Assert.Empty(acceptedPorts[2]);
            Assert.NotEmpty(acceptedPorts[1]);
            Assert.NotEmpty(acceptedPorts[3]);
            Assert.All(clients, c => Assert.Contains(LocalPort(c), acceptedPorts[program.PositionFor((IPEndPoint)c.LocalEndPoint!)]));
        }
        finally
        {
            DisposeAll(clients);
            DisposeAll(shards);
        }
    }

    [Fact]
    public async Task Steering_must_route_udp_datagrams_by_their_source_port_too()
    {
        var shards = BindShards(4, TransportProtocol.Udp);
        var senders = new List<Socket>();
        try
        {
            var program = ReuseportSteeringProgram.Create(4, [0, 2]);
            ReuseportSteering.Attach(shards[1], program);
            var target = shards[0].LocalEndPoint!;
            for (int i = 0; i < 20; i++)
            {
                var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                senders.Add(sender);
                sender.Bind(LoopbackAnyPort);
                await sender.SendToAsync(new byte[] { (byte)i }, target);
            }

            var got = shards.Select(_ => new HashSet<int>()).ToList();
            Assert.True(await Eventually.TrueAsync(
                () =>
                {
                    for (int i = 0; i < shards.Count; i++)
                    {
                        got[i].UnionWith(Received(shards[i]));
                    }

                    return got.Sum(g => g.Count) == 20;
                },
                Patience));
            Assert.Empty(got[1]);
            Assert.Empty(got[3]);
            Assert.All(senders, s => Assert.Contains(LocalPort(s), got[program.PositionFor((IPEndPoint)s.LocalEndPoint!)]));
        }
        finally
        {
            DisposeAll(senders);
            DisposeAll(shards);
        }
    }

    [Fact]
    public async Task Detaching_must_give_every_member_new_connections_again()
    {
        var shards = BindShards(4);
        var clients = new List<Socket>();
        try
        {
            ReuseportSteering.Attach(shards[0], [2]);
            Assert.True(ReuseportSteering.Detach(shards[3]));
            Assert.False(ReuseportSteering.Detach(shards[3]));

            clients = await ConnectAsync(shards[0].LocalEndPoint!, 200);
            Assert.All(await QueuedPerMemberAsync(shards, 200), q => Assert.True(q > 0));
        }
        finally
        {
            DisposeAll(clients);
            DisposeAll(shards);
        }
    }

    [Fact]
    public void Attaching_must_name_the_errno_when_the_socket_is_in_no_reuseport_group()
    {
        using var plain = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        plain.Bind(LoopbackAnyPort);
        plain.Listen();

        var refused = Assert.Throws<ReuseportSteeringException>(() => ReuseportSteering.Attach(plain, [0]));
        Assert.Equal("EINVAL", refused.ErrnoName);
        Assert.Contains("EINVAL", refused.Message);
        Assert.Contains("SO_REUSEPORT", refused.Message);
        Assert.Equal("EINVAL", Assert.Throws<ReuseportSteeringException>(() => ReuseportSteering.Detach(plain)).ErrnoName);
    }

    [Fact]
    public void Attaching_must_refuse_a_socket_that_is_not_listening_yet()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        SocketOptionsNative.SetReusePort(socket);
        Assert.Contains("not bound", Assert.Throws<InvalidOperationException>(() => ReuseportSteering.Attach(socket, [0])).Message);
        socket.Bind(LoopbackAnyPort);
        Assert.Contains("not listening", Assert.Throws<InvalidOperationException>(() => ReuseportSteering.Attach(socket, [0])).Message);
    }

    private static List<Socket> BindShardsOn(int count, string address)
    {
        var first = ReuseportSocketFactory.Instance.Bind(new ListenerSocketOptions(new IPEndPoint(IPAddress.Parse(address), 0)));
        var shards = new List<Socket> { first };
        for (int i = 1; i < count; i++)
        {
            shards.Add(ReuseportSocketFactory.Instance.Bind(new ListenerSocketOptions((IPEndPoint)first.LocalEndPoint!)));
        }

        return shards;
    }

    private static HashSet<int> Received(Socket udp)
    {
        var ports = new HashSet<int>();
        var buffer = new byte[16];
        while (udp.Available > 0)
        {
            EndPoint from = new IPEndPoint(IPAddress.Any, 0);
            udp.ReceiveFrom(buffer, ref from);
            ports.Add(((IPEndPoint)from).Port);
        }

        return ports;
    }
}
