using System.Net;
using System.Net.Sockets;
using ShardRuntime.Runtime.Sockets;
using static ShardRuntime.Runtime.Tests.Sockets.SocketTestKit;

namespace ShardRuntime.Runtime.Tests.Sockets;

public sealed class KernelSocketTableTests
{
    private const string TcpHeader =
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";

    [Fact]
    public async Task Kernel_table_must_report_the_configured_backlog_and_the_accept_queue_length()
    {
        // The backlog comes through sock_diag netlink, the queue length from /proc/net/tcp.
        var shards = BindShards(1, backlog: 100);
        var clients = new List<Socket>();
        try
        {
            int port = PortOf(shards[0]);
            var entry = Assert.Single(KernelSocketTable.ListListening(port, TransportProtocol.Tcp));
            Assert.Equal(100, entry.Backlog);
            Assert.Equal(0, entry.QueueLength);
            Assert.Equal("LISTEN", entry.State);
            Assert.Equal(ProcessIdentity.EffectiveUserId, unchecked((uint)entry.Uid));

            // Three connections that nobody accepts wait in the accept queue.
            for (int i = 0; i < 3; i++)
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                clients.Add(client);
                await client.ConnectAsync(shards[0].LocalEndPoint!);
            }

            Assert.True(
                await Eventually.TrueAsync(
                    () => KernelSocketTable.ListListening(port, TransportProtocol.Tcp).Single().QueueLength == 3,
                    TimeSpan.FromSeconds(10)),
                "the accept queue never showed 3 connections");

            // The connected sockets show up too, but are not listeners.
            Assert.Contains(KernelSocketTable.List(port, TransportProtocol.Tcp), e => e.State == "ESTABLISHED");
        }
        finally
        {
            DisposeAll(clients);
            DisposeAll(shards);
        }
    }

    [Fact]
    public void Kernel_table_must_not_list_sockets_after_they_are_closed()
    {
        var shards = BindShards(2);
        int port = PortOf(shards[0]);
        long closedInode = KernelSocketTable.GetInode(shards[1]);
        shards[1].Dispose();

        var entry = Assert.Single(KernelSocketTable.ListListening(port, TransportProtocol.Tcp));
        Assert.NotEqual(closedInode, entry.Inode);
        shards[0].Dispose();
        Assert.Empty(KernelSocketTable.ListListening(port, TransportProtocol.Tcp));
    }

    [Fact]
    public void GetInode_must_give_each_socket_its_own_inode()
    {
        using var a = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var b = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        Assert.True(KernelSocketTable.GetInode(a) > 0);
        Assert.NotEqual(KernelSocketTable.GetInode(a), KernelSocketTable.GetInode(b));
    }

    [Fact]
    public void Parse_must_read_an_IPv4_listener_and_its_accept_queue_but_leave_the_backlog_to_sock_diag()
    {
        string[] table =
        [
            TcpHeader,
            // A listener's tx_queue is always 0 in /proc/net/tcp: the backlog (100 here) is not in the file.
            "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000003 00:00000000 00000000  1000        0 123456 1 0000000000000000 100 0 0 10 0",
        ];

        var entry = Assert.Single(KernelSocketTable.Parse(table, TransportProtocol.Tcp));

        Assert.Equal(new KernelSocketEntry(new IPEndPoint(IPAddress.Loopback, 8080), TransportProtocol.Tcp, "LISTEN", 123456, 1000, -1, 3), entry);
    }

    [Fact]
    public void Parse_must_read_IPv6_and_v4_mapped_addresses_word_by_word()
    {
        string[] table =
        [
            TcpHeader,
            "   0: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 0A 00000000:00000002 00:00000000 00000000 65534        0 777 1",
            "   1: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:A2C4 01 00000000:00000000 00:00000000 00000000     0        0 778 1",
            "   2: 000080FE00000000FF005002010000FE:0050 00000000000000000000000000000000:0000 06 00000000:00000000 00:00000000 00000000     0        0 0 1",
        ];

        var entries = KernelSocketTable.Parse(table, TransportProtocol.Tcp).ToList();

        Assert.Equal(new IPEndPoint(IPAddress.IPv6Loopback, 53), entries[0].LocalEndPoint);
        Assert.Equal(65534, entries[0].Uid);
        Assert.Equal(2, entries[0].QueueLength);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("::ffff:127.0.0.1"), 8080), entries[1].LocalEndPoint);
        Assert.Equal("ESTABLISHED", entries[1].State);
        Assert.Equal(-1, entries[1].Backlog);
        Assert.Equal(-1, entries[1].QueueLength);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("fe80::250:ff:fe00:1"), 80), entries[2].LocalEndPoint);
        Assert.Equal("TIME_WAIT", entries[2].State);
    }

    [Fact]
    public void Parse_must_name_a_bound_unconnected_UDP_socket_UNCONN_and_give_it_no_backlog()
    {
        string[] table =
        [
            "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops",
            "  187: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 4242 2 0000000000000000 0",
        ];

        var entry = Assert.Single(KernelSocketTable.Parse(table, TransportProtocol.Udp));

        Assert.Equal(new KernelSocketEntry(new IPEndPoint(IPAddress.Loopback, 53), TransportProtocol.Udp, "UNCONN", 4242, 101, -1, -1), entry);
        Assert.True(KernelSocketTable.IsListening(entry));
    }
}
