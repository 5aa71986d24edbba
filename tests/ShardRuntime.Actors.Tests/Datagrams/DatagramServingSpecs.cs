using System.Net;
using System.Net.Sockets;
using Akka.Configuration;
using ShardRuntime.Actors.Listeners;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Handlers;
using ShardRuntime.Runtime.Loading;
using ShardRuntime.Runtime.Sockets.Readiness;

namespace ShardRuntime.Actors.Tests.Datagrams;

/// <summary>A UDP shard's receive turn without the actor: a real socket, its batches and the handler.</summary>
public sealed class DatagramServingSpecs
{
    private static ListenerSettings Udp(int batch) => ShardRuntimeSettings.Create(ConfigurationFactory.ParseString(
        $$"""shard-runtime.listeners.u { endpoint = "127.0.0.1:0", protocol = udp, handler = udp-echo, datagrams-per-batch = {{batch}} }""")).Listeners[0];

    [Fact]
    public async Task A_receive_turn_must_allocate_nothing_per_datagram_in_steady_state()
    {
        const int batch = 32;
        var server = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        server.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var socket = new DatagramShardSocket(server, 0, ReadinessEngine.Loop(0), null, Udp(batch));
        using var registry = HandlerRegistry.ForFactory("u", new UdpEchoHandlerFactory());
        var counters = new ShardCounters();
        var serving = new DatagramServing("u", socket, registry, counters);
        Assert.True(serving.Start());
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        client.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var payload = new byte[100];

        // Turns until every datagram sent so far was served (bounded; nothing in the loop allocates).
        void ServeUntil(long received)
        {
            var deadline = Environment.TickCount64 + 10_000;
            while (counters.DatagramsReceived < received && Environment.TickCount64 < deadline) socket.ReceiveTurn(serving, 4);
        }

        for (var i = 0; i < batch * 2; i++) await client.SendToAsync(payload, socket.EndPoint);
        ServeUntil(batch * 2); // warm-up: JIT, first use of every path
        for (var i = 0; i < batch * 3; i++) await client.SendToAsync(payload, socket.EndPoint);

        var before = GC.GetAllocatedBytesForCurrentThread();
        ServeUntil(batch * 5);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(batch * 5, counters.DatagramsReceived);
        Assert.Equal(batch * 5, counters.DatagramsSent);
        Assert.Equal(0, allocated);
        serving.Stop();
    }
}
