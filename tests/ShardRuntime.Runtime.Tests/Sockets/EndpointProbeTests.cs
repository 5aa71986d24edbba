using System.Net;
using System.Net.Sockets;
using ShardRuntime.Runtime.Sockets;
using static ShardRuntime.Runtime.Tests.Sockets.SocketTestKit;

namespace ShardRuntime.Runtime.Tests.Sockets;

public sealed class EndpointProbeTests
{
    [Fact]
    public void A_free_endpoint_must_be_bindable_and_shared_with_nobody()
    {
        int port;
        using (var taken = ReuseportSocketFactory.Instance.Bind(new ListenerSocketOptions(LoopbackAnyPort)))
            port = PortOf(taken);

        var result = EndpointProbe.Probe(new ListenerSocketOptions(new IPEndPoint(IPAddress.Loopback, port)));

        Assert.True(result.Bindable, result.Refusal?.Message);
        Assert.Empty(result.Sharing);
        Assert.Empty(result.ProcessIds);
        Assert.DoesNotContain(KernelSocketTable.List(port, TransportProtocol.Tcp), e => e.State != "TIME_WAIT"); // closed again
    }

    [Fact]
    public void An_endpoint_served_by_reuseport_sockets_of_this_user_must_be_bindable_naming_their_process()
    {
        var shards = BindShards(2);
        try
        {
            var result = EndpointProbe.Probe(new ListenerSocketOptions(new IPEndPoint(IPAddress.Loopback, PortOf(shards[0]))));

            Assert.True(result.Bindable, result.Refusal?.Message);
            Assert.Equal(shards.Select(KernelSocketTable.GetInode).Order(), result.Sharing.Select(e => e.Inode).Order());
            Assert.Equal([Environment.ProcessId], result.ProcessIds);
        }
        finally
        {
            DisposeAll(shards);
        }
    }

    [Fact]
    public void An_endpoint_held_without_SO_REUSEPORT_must_be_refused_with_the_bind_diagnosis()
    {
        using var plain = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        plain.Bind(LoopbackAnyPort);
        plain.Listen();

        var result = EndpointProbe.Probe(new ListenerSocketOptions((IPEndPoint)plain.LocalEndPoint!));

        Assert.False(result.Bindable);
        Assert.Equal(BindFailure.PortHeldWithoutReuseport, result.Refusal!.Failure);
        Assert.Contains("without SO_REUSEPORT", result.Refusal.Message);
    }

    [Fact]
    public void The_probes_socket_must_not_join_the_group_it_probes()
    {
        // A listening probe would join the group, take a share of new connections and reset them when it closes.
        var shards = BindShards(1);
        try
        {
            int port = PortOf(shards[0]);
            using var probe = ReuseportSocketFactory.Open(new ListenerSocketOptions(new IPEndPoint(IPAddress.Loopback, port)), listen: false);

            Assert.Equal(port, PortOf(probe));
            Assert.Equal([KernelSocketTable.GetInode(shards[0])], KernelSocketTable.ListListening(port, TransportProtocol.Tcp).Select(e => e.Inode));
        }
        finally
        {
            DisposeAll(shards);
        }
    }
}
