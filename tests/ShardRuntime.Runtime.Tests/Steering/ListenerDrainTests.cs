using System.Net.Sockets;
using ShardRuntime.Runtime.Sockets;
using static ShardRuntime.Runtime.Tests.Sockets.SocketTestKit;
using static ShardRuntime.Runtime.Tests.Steering.SteeringTestKit;

namespace ShardRuntime.Runtime.Tests.Steering;

public sealed class ListenerDrainTests
{
    [Fact]
    public async Task QueueLength_must_agree_with_the_kernel_table_and_AcceptQueued_must_empty_the_queue_without_blocking()
    {
        var shards = BindShards(1);
        var clients = new List<Socket>();
        var accepted = new List<Socket>();
        try
        {
            var listener = shards[0];
            Assert.Equal(0, ListenerDrain.AcceptQueued(listener, accepted, 10));
            clients = await ConnectAsync(listener.LocalEndPoint!, 12);
            await QueuedPerMemberAsync(shards, 12);
            Assert.Equal(12, KernelSocketTable.ListListening(PortOf(listener), TransportProtocol.Tcp).Single().QueueLength);

            Assert.Equal(5, ListenerDrain.AcceptQueued(listener, accepted, 5));
            Assert.Equal(7, ListenerDrain.QueueLength(listener));
            Assert.Equal(7, ListenerDrain.AcceptQueued(listener, accepted, 100));
            Assert.True(ListenerDrain.QueueEmpty(listener));
            Assert.Equal(0, KernelSocketTable.ListListening(PortOf(listener), TransportProtocol.Tcp).Single().QueueLength);
            Assert.Equal(12, accepted.Count);
        }
        finally
        {
            DisposeAll(accepted);
            DisposeAll(clients);
            DisposeAll(shards);
        }
    }

    [Fact]
    public async Task Drain_must_take_every_queued_connection_and_report_the_queue_empty_after_the_quiet_period()
    {
        var shards = BindShards(1);
        var clients = new List<Socket>();
        var accepted = new List<Socket>();
        try
        {
            clients = await ConnectAsync(shards[0].LocalEndPoint!, 30);
            await QueuedPerMemberAsync(shards, 30);
            var result = await ListenerDrain.DrainAsync(shards[0], accepted.Add, TimeSpan.FromMilliseconds(100), Patience);
            Assert.True(result.Drained);
            Assert.Equal(30, result.Accepted);
            Assert.Equal(0, result.QueuedAtEnd);
            Assert.Equal(30, accepted.Count);
            Assert.True(result.Elapsed >= TimeSpan.FromMilliseconds(100), $"quiet for only {result.Elapsed}");
        }
        finally
        {
            DisposeAll(accepted);
            DisposeAll(clients);
            DisposeAll(shards);
        }
    }

    [Fact]
    public async Task Drain_must_stop_at_its_deadline_when_connections_keep_arriving()
    {
        var shards = BindShards(1);
        var accepted = new List<Socket>();
        using var stop = new CancellationTokenSource();
        var clients = new List<Socket>();
        var connector = Task.Run(async () =>
        {
            // Bounded: at most 2,000 connections, stopped as soon as the drain returns.
            for (int i = 0; i < 2000 && !stop.IsCancellationRequested; i++)
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                lock (clients)
                {
                    clients.Add(client);
                }

                await client.ConnectAsync(shards[0].LocalEndPoint!);
                await Task.Delay(5);
            }
        });
        try
        {
            var result = await ListenerDrain.DrainAsync(
                shards[0], s => { lock (accepted) { accepted.Add(s); } }, TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(600));
            Assert.False(result.Drained);
            Assert.True(result.Accepted > 0);
            Assert.InRange(result.Elapsed, TimeSpan.FromMilliseconds(600), TimeSpan.FromSeconds(5));
        }
        finally
        {
            stop.Cancel();
            await connector;
            DisposeAll(accepted);
            DisposeAll(clients);
            DisposeAll(shards);
        }
    }

    [Fact]
    public void QueueLength_must_refuse_a_socket_that_is_not_listening()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        Assert.Contains("not listening", Assert.Throws<InvalidOperationException>(() => ListenerDrain.QueueLength(socket)).Message);
    }
}
