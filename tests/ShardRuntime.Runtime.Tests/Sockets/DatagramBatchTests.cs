using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ShardRuntime.Runtime.Sockets.Readiness;
using ShardRuntime.Runtime.Sockets.Udp;
using static ShardRuntime.Runtime.Tests.Sockets.UdpTestKit;

namespace ShardRuntime.Runtime.Tests.Sockets;

public sealed class DatagramBatchTests
{
    [SkippableTheory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public void Receive_must_return_every_datagram_with_the_address_it_came_from(string address)
    {
        var server = BindUdpGroup(address, 1);
        using var serverOwner = server[0];
        var ip = IPAddress.Parse(address);
        using var first = Sender(ip);
        using var second = Sender(ip);
        using var batch = new DatagramBatch(8, 64);
        for (int i = 0; i < 20; i++)
        {
            (i % 2 == 0 ? first : second).SendTo(BitConverter.GetBytes(i), server[0].LocalEndPoint!);
        }

        var got = new Dictionary<int, IPEndPoint>();
        int received = ReceiveUntil(batch, server, 20, (_, payload, peer) => got.Add(BitConverter.ToInt32(payload), peer.ToEndPoint()));

        Assert.Equal(20, received);
        Assert.Equal(Enumerable.Range(0, 20), got.Keys.Order());
        Assert.All(got, kv => Assert.Equal(EndPointOf(kv.Key % 2 == 0 ? first : second), kv.Value));
        Assert.Equal(0, batch.ReceiveFrom(server[0]));
        Assert.Equal(0, batch.Count);
    }

    [SkippableTheory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public void Send_must_deliver_each_queued_datagram_to_its_destination(string address)
    {
        var server = BindUdpGroup(address, 1);
        using var serverOwner = server[0];
        var ip = IPAddress.Parse(address);
        var clients = Enumerable.Range(0, 5).Select(_ => Sender(ip)).ToList();
        using var batch = new DatagramBatch(16, 32);
        try
        {
            for (int i = 0; i < 15; i++)
            {
                Assert.True(batch.TryAdd(BitConverter.GetBytes(i), DatagramPeer.FromEndPoint(EndPointOf(clients[i % 5]))));
            }

            Assert.Equal(15, batch.SendTo(server[0]));
            Assert.Equal(0, batch.Count);

            var buffer = new byte[64];
            for (int c = 0; c < 5; c++)
            {
                clients[c].ReceiveTimeout = (int)Patience.TotalMilliseconds;
                var got = new List<int>();
                for (int k = 0; k < 3; k++)
                {
                    EndPoint from = new IPEndPoint(ip, 0);
                    int n = clients[c].ReceiveFrom(buffer, ref from);
                    Assert.Equal(4, n);
                    Assert.Equal(server[0].LocalEndPoint, from);
                    got.Add(BitConverter.ToInt32(buffer));
                }

                Assert.Equal([c, c + 5, c + 10], got);
            }
        }
        finally
        {
            SocketTestKit.DisposeAll(clients);
        }
    }

    [Fact]
    public void A_rejected_datagram_must_be_dropped_and_counted_and_the_rest_sent_in_order()
    {
        var server = BindUdpGroup("127.0.0.1", 1);
        using var serverOwner = server[0];
        using var client = Sender(IPAddress.Loopback);
        using var batch = new DatagramBatch(4, 16);
        var good = DatagramPeer.FromEndPoint(EndPointOf(client));
        var ipv6 = DatagramPeer.FromEndPoint(new IPEndPoint(IPAddress.IPv6Loopback, EndPointOf(client).Port));

        // sendmmsg sends the first, stops at the second (an IPv6 destination on an IPv4 socket) and says 1: the rest
        // stays queued; the next call reports the refusal, which drops that one datagram only.
        batch.TryAdd("a"u8, good);
        batch.TryAdd("b"u8, ipv6);
        batch.TryAdd("c"u8, good);
        Assert.Equal(2, batch.SendTo(server[0]));
        Assert.Equal(1, batch.Rejected);
        Assert.Equal("EAFNOSUPPORT", batch.LastRejection);
        Assert.Equal(0, batch.Count);

        client.ReceiveTimeout = (int)Patience.TotalMilliseconds;
        var buffer = new byte[16];
        Assert.Equal((byte)'a', buffer[..client.Receive(buffer)].Single());
        Assert.Equal((byte)'c', buffer[..client.Receive(buffer)].Single());
    }

    [Fact]
    public void A_full_batch_must_refuse_more_and_an_oversized_datagram_must_be_refused_by_name()
    {
        using var batch = new DatagramBatch(2, 8);
        var peer = DatagramPeer.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 9));
        Assert.True(batch.TryAdd("12345678"u8, peer));
        Assert.True(batch.TryAdd("x"u8, peer));
        Assert.True(batch.IsFull);
        Assert.False(batch.TryAdd("y"u8, peer));
        Assert.Contains("full", Assert.Throws<InvalidOperationException>(() => batch.FreeSlot.Length).Message);
        batch.Clear();
        Assert.Contains("9 bytes", Assert.Throws<ArgumentException>(() => batch.TryAdd("123456789"u8, peer)).Message);
        Assert.Equal("x"u8.ToArray(), BatchPayload(batch, peer));
    }

    private static byte[] BatchPayload(DatagramBatch batch, DatagramPeer peer)
    {
        "x"u8.CopyTo(batch.FreeSlot);
        batch.Commit(1, peer);
        Assert.Equal(peer, batch.Peer(0));
        return batch.Payload(0).ToArray();
    }

    [Fact]
    public void A_datagram_longer_than_a_slot_must_be_cut_and_marked_truncated()
    {
        var server = BindUdpGroup("127.0.0.1", 1);
        using var serverOwner = server[0];
        using var client = Sender(IPAddress.Loopback);
        using var batch = new DatagramBatch(4, 8);
        client.SendTo(new byte[20], server[0].LocalEndPoint!);
        client.SendTo(new byte[8], server[0].LocalEndPoint!);
        var truncated = new List<(int Length, bool Truncated)>();
        var clock = Stopwatch.StartNew();
        while (truncated.Count < 2 && clock.Elapsed < Patience)
        {
            server[0].Poll(TimeSpan.FromMilliseconds(100), SelectMode.SelectRead);
            int n = batch.ReceiveFrom(server[0]);
            for (int i = 0; i < n; i++)
            {
                truncated.Add((batch.Payload(i).Length, batch.IsTruncated(i)));
            }
        }

        Assert.Equal([(8, true), (8, false)], truncated);
    }

    [Fact]
    public void A_call_on_a_descriptor_that_is_no_socket_must_throw_naming_the_call_and_the_errno()
    {
        using var batch = new DatagramBatch(2, 8);
        using var file = File.OpenHandle(Path.GetTempFileName(), FileMode.Open, FileAccess.Read, FileShare.ReadWrite, FileOptions.DeleteOnClose);
        int fd = (int)file.DangerousGetHandle();
        var receive = Assert.Throws<DatagramIoException>(() => batch.ReceiveFrom(fd));
        Assert.Equal("recvmmsg", receive.Call);
        Assert.Equal("ENOTSOCK", receive.ErrnoName);
        Assert.StartsWith("recvmmsg on descriptor", receive.Message);

        batch.TryAdd("x"u8, DatagramPeer.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 9)));
        var send = Assert.Throws<DatagramIoException>(() => batch.SendTo(fd));
        Assert.Equal("sendmmsg", send.Call);
        Assert.Contains("ENOTSOCK", send.Message);
        Assert.Equal(1, batch.Count);
    }

    [SkippableTheory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public void An_echo_loop_must_allocate_nothing_per_datagram_in_steady_state(string address)
    {
        var server = BindUdpGroup(address, 1);
        using var serverOwner = server[0];
        var ip = IPAddress.Parse(address);
        using var client = Sender(ip);
        using var outbound = new DatagramBatch(32, 512);
        using var inbound = new DatagramBatch(32, 512);
        using var replies = new DatagramBatch(32, 512);
        using var answers = new DatagramBatch(32, 512);
        var serverPeer = DatagramPeer.FromEndPoint(EndPointOf(server[0]));

        long Round(int round)
        {
            for (int i = 0; i < 32; i++)
            {
                Span<byte> slot = outbound.FreeSlot;
                BinaryPrimitives.WriteInt32LittleEndian(slot, round * 32 + i);
                outbound.Commit(100, serverPeer);
            }

            outbound.SendTo(client);
            long echoed = 0, answered = 0, sum = 0;
            long deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 10;
            while ((echoed < 32 || answered < 32) && Stopwatch.GetTimestamp() < deadline)
            {
                int n = inbound.ReceiveFrom(server[0]);
                for (int i = 0; i < n; i++)
                {
                    replies.TryAdd(inbound.Payload(i), inbound.Peer(i));
                }

                echoed += n;
                replies.SendTo(server[0]);
                int m = answers.ReceiveFrom(client);
                for (int i = 0; i < m; i++)
                {
                    sum += BinaryPrimitives.ReadInt32LittleEndian(answers.Payload(i));
                }

                answered += m;
            }

            // No Assert here: xunit's comparers allocate. A round that lost a datagram makes the sum below wrong.
            return echoed == 32 && answered == 32 ? sum : long.MinValue;
        }

        for (int round = 0; round < 100; round++)
        {
            Round(round); // warm-up: JIT, tiering (a method is promoted after 30 calls)
        }

        // Steady state: a window of 200 rounds (6,400 datagrams) allocates nothing. The runtime may still finish a
        // promotion to tier 1 on this thread during one window (seen once in CI: 6,256 bytes in one window), so the
        // best of three windows counts; every window must echo every datagram.
        var expected = Enumerable.Range(0, 200 * 32).Sum(i => (long)(i % 32 + i / 32 * 32));
        var allocations = new long[3];
        for (int window = 0; window < allocations.Length; window++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            long total = 0;
            for (int round = 0; round < 200; round++)
            {
                total += Round(round);
            }

            allocations[window] = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(expected, total);
        }

        Assert.True(allocations.Min() == 0, $"every window of 6,400 datagrams allocated: {string.Join(", ", allocations)} bytes");
    }

    [Theory]
    [InlineData("127.0.0.1", 5300)]
    [InlineData("::1", 53)]
    [InlineData("2001:db8::7", 65535)]
    [InlineData("fe80::1%3", 1)]
    public void A_peer_must_survive_the_round_trip_through_a_sockaddr(string address, int port)
    {
        var endPoint = new IPEndPoint(IPAddress.Parse(address), port);
        var peer = DatagramPeer.FromEndPoint(endPoint);
        Span<byte> sockaddr = stackalloc byte[128];
        int length = peer.Write(sockaddr);
        Assert.True(DatagramPeer.TryRead(sockaddr[..length], out var back));
        Assert.Equal(peer, back);
        Assert.Equal(endPoint, back.ToEndPoint());
        Assert.Equal(endPoint.ToString(), back.ToString());
        Assert.Equal(port, back.Port);
        Assert.Equal(endPoint.AddressFamily, back.Family);
        Assert.NotEqual(peer, DatagramPeer.FromEndPoint(new IPEndPoint(endPoint.Address, (port + 1) % 65536)));
        Assert.False(DatagramPeer.TryRead(sockaddr[..(length - 1)], out _));
    }

    private sealed class Wakes : IReadinessListener
    {
        public readonly SemaphoreSlim Readable = new(0);

        public void OnReadable(object? state) => Readable.Release();

        public void OnWritable(object? state)
        {
        }
    }

    [Fact]
    public async Task Receive_turns_must_drain_a_socket_the_readiness_engine_wakes_for_within_their_budget_and_arm_when_empty()
    {
        var server = BindUdpGroup("127.0.0.1", 1);
        using var serverOwner = server[0];
        using var client = Sender(IPAddress.Loopback);
        using var batch = new DatagramBatch(8, 16);
        var wakes = new Wakes();
        int fd = (int)server[0].SafeHandle.DangerousGetHandle();
        using var registration = ReadinessEngine.Loop(0).Register(fd, wakes);
        var got = new List<int>();
        int servedThisTurn = 0;
        void Serve(DatagramBatch b, object? _)
        {
            for (int i = 0; i < b.Count; i++)
            {
                got.Add(BitConverter.ToInt32(b.Payload(i)));
            }

            servedThisTurn += b.Count;
        }

        // Nothing there: the first turn arms at once.
        Assert.Equal(ReceiveTurnEnd.Armed, batch.ReceiveTurn(registration, fd, 2, Serve, null));
        Assert.Empty(got);

        for (int round = 0; round < 3; round++)
        {
            int before = got.Count;
            for (int k = 0; k < 100; k++)
            {
                client.SendTo(BitConverter.GetBytes(round * 100 + k), server[0].LocalEndPoint!);
            }

            int turns = 0;
            while (got.Count < before + 100 && turns < 1_000)
            {
                Assert.True(await wakes.Readable.WaitAsync(Patience), $"no wake-up with {got.Count - before} of 100 received in round {round}");
                ReceiveTurnEnd end;
                do
                {
                    servedThisTurn = 0;
                    end = batch.ReceiveTurn(registration, fd, 2, Serve, null);
                    Assert.InRange(servedThisTurn, 0, 2 * 8); // the budget: 2 batches of 8
                    turns++;
                }
                while (end == ReceiveTurnEnd.BudgetSpent);
            }

            Assert.Equal(Enumerable.Range(round * 100, 100), got.Skip(before));
        }
    }
}
