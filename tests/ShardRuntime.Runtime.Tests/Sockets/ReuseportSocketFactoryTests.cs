using System.Net;
using System.Net.Sockets;
using ShardRuntime.Runtime.Sockets;
using static ShardRuntime.Runtime.Tests.Sockets.SocketTestKit;

namespace ShardRuntime.Runtime.Tests.Sockets;

public sealed class ReuseportSocketFactoryTests
{
    [Fact]
    public void Factory_must_set_SO_REUSEPORT_and_let_four_sockets_share_a_port()
    {
        var shards = BindShards(4);
        try
        {
            int port = PortOf(shards[0]);
            Assert.All(shards, s => Assert.True(SocketOptionsNative.GetReusePort(s)));
            Assert.All(shards, s => Assert.True(SocketOptionsNative.GetReuseAddress(s)));
            Assert.All(shards, s => Assert.True(SocketOptionsNative.IsListening(s)));

            var listening = KernelSocketTable.ListListening(port, TransportProtocol.Tcp);
            Assert.Equal(4, listening.Count);
            Assert.Equal(
                shards.Select(KernelSocketTable.GetInode).Order(),
                listening.Select(e => e.Inode).Order());
            Assert.All(listening, e => Assert.Equal(new IPEndPoint(IPAddress.Loopback, port), e.LocalEndPoint));
            Assert.All(listening, e => Assert.Equal(511, e.Backlog));
        }
        finally
        {
            DisposeAll(shards);
        }
    }

    [Theory]
    [InlineData(TransportProtocol.Tcp)]
    [InlineData(TransportProtocol.Udp)]
    public void Factory_must_bind_the_first_shard_to_an_ephemeral_port_and_the_others_to_the_port_it_obtained(TransportProtocol protocol)
    {
        var shards = BindShards(3, protocol);
        try
        {
            int port = PortOf(shards[0]);
            Assert.NotEqual(0, port);
            Assert.All(shards, s => Assert.Equal(port, PortOf(s)));
            Assert.Equal(3, KernelSocketTable.ListListening(port, protocol).Count);
        }
        finally
        {
            DisposeAll(shards);
        }
    }

    [Fact]
    public async Task Factory_must_let_two_udp_sockets_share_a_port_and_deliver_to_them()
    {
        var shards = BindShards(2, TransportProtocol.Udp);
        try
        {
            int port = PortOf(shards[0]);
            Assert.All(shards, s => Assert.Equal(SocketType.Dgram, s.SocketType));
            Assert.All(shards, s => Assert.True(SocketOptionsNative.GetReusePort(s)));
            Assert.All(shards, s => Assert.False(SocketOptionsNative.GetReuseAddress(s)));

            var listed = KernelSocketTable.ListListening(port, TransportProtocol.Udp);
            Assert.Equal(shards.Select(KernelSocketTable.GetInode).Order(), listed.Select(e => e.Inode).Order());
            Assert.All(listed, e => Assert.Equal("UNCONN", e.State));

            // A datagram sent to the port reaches one of the group.
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            await client.SendToAsync(new byte[] { 42 }, new IPEndPoint(IPAddress.Loopback, port));
            var buffer = new byte[8];
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            var received = await Task.WhenAny(shards.Select(s => s.ReceiveAsync(buffer, SocketFlags.None, timeout.Token).AsTask()));
            Assert.Equal(1, await received);
            Assert.Equal(42, buffer[0]);
        }
        finally
        {
            DisposeAll(shards);
        }
    }

    [Fact]
    public void Raw_SO_REUSEADDR_alone_must_not_let_a_second_socket_listen_on_a_port_held_by_a_reuseport_listener()
    {
        // Linux lets SO_REUSEADDR bind over TIME_WAIT, never next to a listener: only SO_REUSEPORT shares a port.
        var shards = BindShards(1);
        using var intruder = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            SocketOptionsNative.SetReuseAddress(intruder);
            Assert.False(SocketOptionsNative.GetReusePort(intruder));

            var error = Assert.Throws<SocketException>(() =>
            {
                intruder.Bind(shards[0].LocalEndPoint!);
                intruder.Listen();
            });
            Assert.Equal(SocketError.AddressAlreadyInUse, error.SocketErrorCode);
        }
        finally
        {
            DisposeAll(shards);
        }
    }

    [Fact]
    public void Udp_shard_must_not_admit_a_socket_that_sets_only_SO_REUSEADDR()
    {
        // Two UDP sockets that both set SO_REUSEADDR may share a port whatever their users; ours does not set it.
        var shards = BindShards(1, TransportProtocol.Udp);
        using var intruder = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            SocketOptionsNative.SetReuseAddress(intruder);
            var error = Assert.Throws<SocketException>(() => intruder.Bind(shards[0].LocalEndPoint!));
            Assert.Equal(SocketError.AddressAlreadyInUse, error.SocketErrorCode);
        }
        finally
        {
            DisposeAll(shards);
        }
    }

    [Fact]
    public void Dotnet_ReuseAddress_option_sets_SO_REUSEPORT_too_which_is_why_the_factory_never_uses_it()
    {
        // The measured fact behind SocketOptionsNative. If a .NET release changes it, revisit the factory's doc.
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        Assert.True(SocketOptionsNative.GetReusePort(socket));
    }

    [Theory]
    [InlineData(TransportProtocol.Tcp)]
    [InlineData(TransportProtocol.Udp)]
    public void Bind_must_fail_with_PortHeldWithoutReuseport_when_a_plain_socket_of_this_user_holds_the_port(TransportProtocol protocol)
    {
        using var plain = protocol == TransportProtocol.Tcp
            ? new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)
            : new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        plain.Bind(LoopbackAnyPort);
        if (protocol == TransportProtocol.Tcp)
        {
            plain.Listen();
        }

        var endPoint = (IPEndPoint)plain.LocalEndPoint!;
        var error = Assert.Throws<ListenerBindException>(
            () => ReuseportSocketFactory.Instance.Bind(new ListenerSocketOptions(endPoint, protocol)));

        string what = $"127.0.0.1:{endPoint.Port}/{(protocol == TransportProtocol.Tcp ? "tcp" : "udp")}";
        Assert.Equal(BindFailure.PortHeldWithoutReuseport, error.Failure);
        Assert.Equal(SocketError.AddressAlreadyInUse, error.SocketError);
        Assert.Equal(endPoint, error.EndPoint);
        Assert.Equal(protocol, error.Protocol);
        Assert.Equal(KernelSocketTable.GetInode(plain), error.Holder?.Inode);
        Assert.Contains(what, error.Message);
        Assert.Contains("without SO_REUSEPORT", error.Message);
        Assert.IsType<SocketException>(error.InnerException);
    }

    [SkippableTheory]
    [InlineData(TransportProtocol.Tcp)]
    [InlineData(TransportProtocol.Udp)]
    public async Task Bind_must_fail_with_PortHeldByOtherUser_when_a_reuseport_socket_of_another_user_holds_the_port(TransportProtocol protocol)
    {
        string? why = OtherUserProcess.WhyUnavailable();
        Skip.If(why is not null, why);

        const string script = """
            import socket, sys
            tcp = sys.argv[1] == 'tcp'
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            s.bind(('127.0.0.1', 0))
            if tcp:
                s.listen(16)
            print('ready', s.getsockname()[1], flush=True)
            sys.stdin.read()
            """;
        string name = protocol == TransportProtocol.Tcp ? "tcp" : "udp";
        using var child = await OtherUserProcess.StartAsync(script, name);
        int port = int.Parse(child.ReadyLine.Split(' ')[1]);
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);

        // Even with SO_REUSEPORT on both sides, the kernel keeps users apart.
        var error = Assert.Throws<ListenerBindException>(
            () => ReuseportSocketFactory.Instance.Bind(new ListenerSocketOptions(endPoint, protocol)));

        Assert.Equal(BindFailure.PortHeldByOtherUser, error.Failure);
        Assert.Equal(65534, error.Holder?.Uid);
        Assert.Contains($"127.0.0.1:{port}/{name}", error.Message);
        Assert.Contains("user 65534 (nobody)", error.Message);
        Assert.Contains("same effective user (uid 0)", error.Message);
    }

    [Fact]
    public void Bind_must_fail_with_AddressNotAvailable_for_an_address_this_host_does_not_have()
    {
        var endPoint = new IPEndPoint(IPAddress.Parse("192.0.2.1"), 0); // TEST-NET-1, never assigned
        var error = Assert.Throws<ListenerBindException>(
            () => ReuseportSocketFactory.Instance.Bind(new ListenerSocketOptions(endPoint)));

        Assert.Equal(BindFailure.AddressNotAvailable, error.Failure);
        Assert.Contains("192.0.2.1:0/tcp", error.Message);
        Assert.Contains("not assigned", error.Message);
    }

    [SkippableFact]
    public void Factory_must_make_IPv6_listeners_IPv6_only()
    {
        Skip.IfNot(Socket.OSSupportsIPv6, "this host has no IPv6");
        Socket socket;
        try
        {
            socket = ReuseportSocketFactory.Instance.Bind(new ListenerSocketOptions(new IPEndPoint(IPAddress.IPv6Loopback, 0)));
        }
        catch (ListenerBindException e) when (e.Failure == BindFailure.AddressNotAvailable)
        {
            throw new SkipException("::1 is not configured on this host");
        }

        using (socket)
        {
            Assert.False(socket.DualMode);
            Assert.True(SocketOptionsNative.GetReusePort(socket));
            var entry = Assert.Single(KernelSocketTable.ListListening(PortOf(socket), TransportProtocol.Tcp));
            Assert.Equal(new IPEndPoint(IPAddress.IPv6Loopback, PortOf(socket)), entry.LocalEndPoint);
            Assert.Equal(KernelSocketTable.GetInode(socket), entry.Inode);
            Assert.Equal(511, entry.Backlog);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void Factory_must_refuse_a_TCP_listener_without_a_positive_backlog(int backlog)
    {
        Assert.Throws<ArgumentOutOfRangeException>(
            () => ReuseportSocketFactory.Instance.Bind(new ListenerSocketOptions(LoopbackAnyPort, TransportProtocol.Tcp, backlog)));
    }

    [Fact]
    public void Options_must_print_as_endpoint_and_protocol()
    {
        Assert.Equal("127.0.0.1:8080/tcp", new ListenerSocketOptions(new IPEndPoint(IPAddress.Loopback, 8080)).ToString());
        Assert.Equal("[::1]:53/udp", new ListenerSocketOptions(new IPEndPoint(IPAddress.IPv6Loopback, 53), TransportProtocol.Udp).ToString());
    }
}
