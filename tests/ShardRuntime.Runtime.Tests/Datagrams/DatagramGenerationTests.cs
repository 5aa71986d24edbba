using System.Net;
using System.Net.Sockets;
using ShardRuntime.Runtime.Dns;
using ShardRuntime.Runtime.Handlers;
using ShardRuntime.Runtime.Loading;
using ShardRuntime.Runtime.Tests.Handlers;
using static ShardRuntime.Runtime.Tests.Datagrams.DnsMessages;

namespace ShardRuntime.Runtime.Tests.Datagrams;

public sealed class DatagramGenerationTests
{
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(20);

    private static DnsStaticOptions Answering(string address) =>
        DnsStaticOptions.FromText(null, TimeSpan.FromSeconds(60), 1232, [new("a.test.", [new("A", [address])])]);

    private static async Task<string> AskA(DatagramTestServer server)
    {
        using var client = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        await client.SendAsync(Query("a.test.", A), server.EndPoint);
        var reply = Read((await client.ReceiveAsync().WaitAsync(ReplyTimeout)).Buffer);
        return new IPAddress(Assert.Single(reply.Answers).Data).ToString();
    }

    [Fact]
    public async Task A_reload_must_give_new_sockets_the_new_zone_while_old_ones_serve_theirs_until_released()
    {
        var options = Answering("10.0.0.1");
        using var registry = new HandlerRegistry("dns", number => HandlerGeneration.FromFactory(new DnsStaticHandlerFactory(options), number));
        var unloaded = new List<int>();
        registry.GenerationUnloaded += g => unloaded.Add(g.Number);
        var oldLease = registry.Acquire();
        using var oldShard = new DatagramTestServer(oldLease.CreateDatagramHandler);

        options = Answering("10.0.0.2");
        var reloaded = registry.Reload();
        using var newLease = registry.Acquire();
        using var newShard = new DatagramTestServer(newLease.CreateDatagramHandler);

        Assert.Equal((2, true, "dns-static"), (reloaded.Number, reloaded.IsDatagram, reloaded.Name));
        Assert.Equal("10.0.0.2", await AskA(newShard));
        Assert.Equal("10.0.0.1", await AskA(oldShard));
        Assert.Equal([(2, true, 1), (1, false, 1)], registry.Snapshot().Generations.Select(g => (g.Number, g.IsCurrent, g.LiveConnections)));

        oldLease.Dispose();

        Assert.True(oldLease.Generation.IsUnloaded);
        Assert.Equal([1], unloaded);
    }

    [Fact]
    public void A_generation_must_refuse_the_factory_of_the_other_kind_saying_what_it_serves()
    {
        var datagrams = HandlerGeneration.FromFactory(new UdpEchoHandlerFactory(), 3);
        var connections = HandlerGeneration.FromBuiltIn("echo", 1);
        using var lease = HandlerRegistry.ForFactory("udp", new UdpEchoHandlerFactory()).Acquire();

        Assert.Equal("Handler generation 3 ('udp-echo') serves datagrams, not connections.", Assert.Throws<InvalidOperationException>(() => datagrams.Factory).Message);
        Assert.Equal("Handler generation 1 ('echo') serves connections, not datagrams.", Assert.Throws<InvalidOperationException>(() => connections.DatagramFactory).Message);
        Assert.Throws<InvalidOperationException>(() => lease.CreateHandler(new FakeConnectionContext()));
        Assert.False(connections.IsDatagram);
        Assert.IsType<UdpEchoHandlerFactory>(datagrams.DatagramFactory);
    }
}
