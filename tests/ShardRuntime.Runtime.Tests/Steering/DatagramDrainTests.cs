using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ShardRuntime.Runtime.Sockets;
using ShardRuntime.Runtime.Sockets.Udp;
using static ShardRuntime.Runtime.Tests.Sockets.SocketTestKit;
using static ShardRuntime.Runtime.Tests.Sockets.UdpTestKit;
using static ShardRuntime.Runtime.Tests.Steering.SteeringTestKit;

namespace ShardRuntime.Runtime.Tests.Steering;

public sealed class DatagramDrainTests
{
    private static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(50);

    [Fact]
    public async Task ReceiveQueueEmpty_must_see_a_queued_datagram_even_one_of_length_zero()
    {
        var server = BindUdpGroup("127.0.0.1", 1);
        using var socket = server[0];
        using var client = Sender(IPAddress.Loopback);
        using var batch = new DatagramBatch(4, 16);
        Assert.True(DatagramDrain.ReceiveQueueEmpty(socket));

        client.SendTo([], socket.LocalEndPoint!);
        Assert.True(await Eventually.TrueAsync(() => !DatagramDrain.ReceiveQueueEmpty(socket), SteeringTestKit.Patience));
        Assert.Equal(0, socket.Available); // FIONREAD alone would call this queue empty

        Assert.Equal(1, batch.ReceiveFrom(socket));
        Assert.Equal(0, batch.Payload(0).Length);
        Assert.True(DatagramDrain.ReceiveQueueEmpty(socket));

        using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        Assert.Contains("not a datagram socket", Assert.Throws<InvalidOperationException>(() => DatagramDrain.ReceiveQueueEmpty(tcp)).Message);
    }

    [Fact]
    public void Check_must_say_drained_only_after_the_settle_interval_and_with_the_queue_empty()
    {
        var drain = new DatagramDrain(startedAt: 1_000, TimeSpan.FromMilliseconds(100), deadline: 10_000);
        int asked = 0;
        bool Empty() => ++asked > 0;

        Assert.Equal(DrainCheck.Draining, drain.Check(1_050, long.MinValue, Empty));
        Assert.Equal(0, asked); // the kernel is not asked before the interval passed
        Assert.Equal(DrainCheck.Draining, drain.Check(2_000, long.MinValue, () => false));
        Assert.Equal(DrainCheck.Draining, drain.Check(2_000, lastReceived: 1_950, Empty));
        Assert.Equal(DrainCheck.Drained, drain.Check(2_050, lastReceived: 1_950, Empty));

        drain.SteeringChanged(2_060);
        Assert.Equal(DrainCheck.Draining, drain.Check(2_100, lastReceived: 1_950, Empty));
        Assert.Equal(DrainCheck.Drained, drain.Check(2_160, lastReceived: 1_950, Empty));
        drain.CloseBy(2_200);
        Assert.Equal(2_200, drain.Deadline);
        Assert.Equal(DrainCheck.Overdue, drain.Check(2_200, lastReceived: 2_199, () => false));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_retiring_UDP_socket_must_lose_its_queued_datagrams_when_closed_at_once_and_none_when_drained_first(bool drainFirst)
    {
        var shards = BindUdpGroup("127.0.0.1", 3);
        var senders = Enumerable.Range(0, 60).Select(_ => Sender(IPAddress.Loopback)).ToList();
        using var batch = new DatagramBatch(64, 16);
        try
        {
            var group = GroupOf(shards);
            var retiring = shards[2];
            for (int k = 0; k < 150; k++)
            {
                senders[k % senders.Count].SendTo(BitConverter.GetBytes(k), shards[0].LocalEndPoint!);
            }

            // Everything sent is queued somewhere, some of it on the socket that is about to retire.
            Assert.True(SpinUntil(() => !DatagramDrain.ReceiveQueueEmpty(retiring)), "the kernel's hash put no datagram on the retiring socket");
            group.MarkRetiring(retiring);
            group.ApplySteering();

            var served = new List<int>();
            if (drainFirst)
            {
                var drain = new DatagramDrain(Environment.TickCount64, Settle, Environment.TickCount64 + 10_000);
                DrainCheck check;
                do
                {
                    check = drain.ReceiveInto(batch, retiring, Environment.TickCount64);
                    for (int i = 0; i < batch.Count; i++)
                    {
                        served.Add(BitConverter.ToInt32(batch.Payload(i)));
                    }

                    if (check == DrainCheck.Draining && batch.Count == 0)
                    {
                        retiring.Poll(Settle, SelectMode.SelectRead); // wait for a datagram or the settle interval, bounded
                    }
                }
                while (check == DrainCheck.Draining);

                Assert.Equal(DrainCheck.Drained, check);
                Assert.NotEmpty(served);
            }

            retiring.Dispose();
            group.Remove(retiring);
            var staying = shards.Take(2).ToList();
            group.ApplySteering();
            int expected = 150 - served.Count;
            // The control case waits only a second for datagrams that cannot come: fewer served only makes its point.
            ReceiveUntil(
                batch, staying, expected, (_, payload, _) => served.Add(BitConverter.ToInt32(payload)), drainFirst ? null : TimeSpan.FromSeconds(1));
            if (drainFirst)
            {
                Assert.Equal(Enumerable.Range(0, 150), served.Order());
            }
            else
            {
                // The control case: what sat in the closed socket's queue is gone.
                Assert.True(served.Count < 150, $"closing a socket with datagrams queued should lose them; {served.Count} of 150 were served");
                Assert.Equal(served.Count, served.Distinct().Count());
            }
        }
        finally
        {
            DisposeAll(senders);
            DisposeAll(shards);
        }
    }

    [SkippableTheory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public async Task Retiring_a_UDP_socket_under_a_steady_stream_must_lose_no_datagram(string address)
    {
        const int Total = 10_000;
        const int SteerAt = 600;
        var shards = BindUdpGroup(address, 3);
        var ip = IPAddress.Parse(address);
        var senders = Enumerable.Range(0, 50).Select(_ => Sender(ip)).ToList();
        using var batch = new DatagramBatch(64, 16);
        using var window = new SemaphoreSlim(64); // datagrams in flight: well within every socket's receive buffer
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var target = shards[0].LocalEndPoint!;
        int sent = 0;
        var sender = Task.Run(async () =>
        {
            for (int k = 0; k < Total; k++)
            {
                await window.WaitAsync(stop.Token);
                senders[k % senders.Count].SendTo(BitConverter.GetBytes(k), target);
                Volatile.Write(ref sent, k + 1);
            }
        });

        var group = GroupOf(shards);
        var retiring = shards[2];
        var open = shards.ToList();
        var served = new List<int>();
        var onRetiring = new List<int>();
        DatagramDrain? drain = null;
        int sentWhenSteered = -1;
        var clock = Stopwatch.StartNew();
        try
        {
            while ((served.Count < Total || open.Contains(retiring)) && clock.Elapsed < TimeSpan.FromSeconds(60))
            {
                int got = 0;
                foreach (var member in open.ToList())
                {
                    if (member == retiring && drain is not null)
                    {
                        var check = drain.ReceiveInto(batch, retiring, Environment.TickCount64);
                        got += Serve(batch, served, window, onRetiring);
                        if (check != DrainCheck.Draining)
                        {
                            Assert.Equal(DrainCheck.Drained, check);
                            retiring.Dispose();
                            group.Remove(retiring);
                            open.Remove(retiring);
                            group.ApplySteering();
                        }

                        continue;
                    }

                    batch.ReceiveFrom(member);
                    got += Serve(batch, served, window, member == retiring ? onRetiring : null);
                }

                if (drain is null && Volatile.Read(ref sent) >= SteerAt)
                {
                    group.MarkRetiring(retiring);
                    group.ApplySteering();
                    sentWhenSteered = Volatile.Read(ref sent);
                    drain = new DatagramDrain(Environment.TickCount64, Settle, Environment.TickCount64 + 20_000);
                }

                if (got == 0)
                {
                    Socket.Select(open.ToList(), null, null, TimeSpan.FromMilliseconds(20));
                }
            }

            await sender;
            Assert.DoesNotContain(retiring, open); // it was drained and closed under load
            Assert.Equal(Enumerable.Range(0, Total), served.Order());
            Assert.NotEmpty(onRetiring);
            Assert.All(onRetiring, k => Assert.True(k < sentWhenSteered + 1, $"datagram {k} reached the retiring socket after the steer ({sentWhenSteered} sent then)"));
        }
        finally
        {
            stop.Cancel();
            await Task.WhenAny(sender);
            DisposeAll(senders);
            DisposeAll(shards);
        }
    }

    private static int Serve(DatagramBatch batch, List<int> served, SemaphoreSlim window, List<int>? alsoInto)
    {
        for (int i = 0; i < batch.Count; i++)
        {
            int k = BitConverter.ToInt32(batch.Payload(i));
            served.Add(k);
            alsoInto?.Add(k);
        }

        if (batch.Count > 0)
        {
            window.Release(batch.Count);
        }

        return batch.Count;
    }

    private static bool SpinUntil(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > SteeringTestKit.Patience)
            {
                return false;
            }

            Thread.Yield();
        }

        return true;
    }
}
