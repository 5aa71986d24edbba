using System.Net;
using System.Net.Sockets;
using ShardRuntime.Runtime.Sockets;
using static ShardRuntime.Runtime.Tests.Sockets.SocketTestKit;

namespace ShardRuntime.Runtime.Tests.Sockets;

public sealed class ReuseportJoinProbeTests
{
    [Fact]
    public void Probe_must_see_that_a_listener_would_join_a_reuseport_group_without_joining_it()
    {
        var shards = BindShards(2);
        try
        {
            var endPoint = new IPEndPoint(IPAddress.Loopback, PortOf(shards[0]));

            Assert.True(ReuseportJoinProbe.WouldJoin(endPoint, TransportProtocol.Tcp));
            Assert.Equal(2, KernelSocketTable.ListListening(endPoint.Port, TransportProtocol.Tcp).Count); // it never listened
        }
        finally
        {
            DisposeAll(shards);
        }
    }

    [Fact]
    public void Probe_must_see_that_a_listener_without_SO_REUSEPORT_cannot_be_joined()
    {
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        holder.Bind(LoopbackAnyPort);
        holder.Listen();

        Assert.False(ReuseportJoinProbe.WouldJoin((IPEndPoint)holder.LocalEndPoint!, TransportProtocol.Tcp));
    }

    [Fact]
    public void Socket_owners_must_name_the_process_that_holds_a_socket()
    {
        var shards = BindShards(1);
        try
        {
            var inode = KernelSocketTable.GetInode(shards[0]);

            var owners = SocketOwners.Find([inode, long.MaxValue]);

            Assert.Equal([Environment.ProcessId], owners[inode]);
            Assert.False(owners.ContainsKey(long.MaxValue));
        }
        finally
        {
            DisposeAll(shards);
        }
    }
}
