using System.Net.Sockets;
using ShardRuntime.Runtime.Sockets;
using static ShardRuntime.Runtime.Tests.Sockets.SocketTestKit;
using static ShardRuntime.Runtime.Tests.Steering.SteeringTestKit;

namespace ShardRuntime.Runtime.Tests.Steering;

public sealed class ListenerDrainTests
{
    [Fact]
    public async Task QueueLength_must_agree_with_the_kernel_table_as_the_queue_empties()
    {
        var shards = BindShards(1);
        var clients = new List<Socket>();
        var accepted = new List<Socket>();
        try
        {
            var listener = shards[0];
            Assert.Equal(0, AcceptQueued(listener, accepted, 10));
            clients = await ConnectAsync(listener.LocalEndPoint!, 12);
            await QueuedPerMemberAsync(shards, 12);
            Assert.Equal(12, KernelSocketTable.ListListening(PortOf(listener), TransportProtocol.Tcp).Single().QueueLength);

            Assert.Equal(5, AcceptQueued(listener, accepted, 5));
            Assert.Equal(7, ListenerDrain.QueueLength(listener));
            Assert.Equal(7, AcceptQueued(listener, accepted, 100));
            Assert.Equal(0, ListenerDrain.QueueLength(listener));
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
    public async Task Check_must_say_drained_only_after_the_quiet_period_and_with_the_queue_empty()
    {
        var shards = BindShards(1);
        var clients = new List<Socket>();
        var accepted = new List<Socket>();
        try
        {
            var drain = new ListenerDrain(startedAt: 1_000, TimeSpan.FromMilliseconds(100), deadline: 10_000);
            clients = await ConnectAsync(shards[0].LocalEndPoint!, 3);
            await QueuedPerMemberAsync(shards, 3);
            int Queue() => ListenerDrain.QueueLength(shards[0]);

            // Quiet long enough, but the kernel still counts 3 queued: not drained.
            Assert.Equal(DrainCheck.Draining, drain.Check(2_000, lastAccepted: 0, Queue));
            AcceptQueued(shards[0], accepted, 10);

            // The last accept (at 1,950) starts the quiet period again.
            Assert.Equal(DrainCheck.Draining, drain.Check(2_000, lastAccepted: 1_950, Queue));
            Assert.Equal(DrainCheck.Drained, drain.Check(2_050, lastAccepted: 1_950, Queue));

            // A change of steering starts it again too; the deadline ends the wait whatever the queue says.
            drain.SteeringChanged(2_060);
            Assert.Equal(DrainCheck.Draining, drain.Check(2_100, lastAccepted: 1_950, Queue));
            Assert.Equal(DrainCheck.Drained, drain.Check(2_160, lastAccepted: 1_950, Queue));
            drain.CloseBy(2_200);
            Assert.Equal(DrainCheck.Overdue, drain.Check(2_200, lastAccepted: 2_199, () => 99));
        }
        finally
        {
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
