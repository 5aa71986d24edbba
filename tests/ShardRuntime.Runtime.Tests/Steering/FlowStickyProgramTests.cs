using System.Net;
using ShardRuntime.Runtime.Sockets;
using static ShardRuntime.Runtime.Tests.Steering.ClassicBpfInterpreter;

namespace ShardRuntime.Runtime.Tests.Steering;

public sealed class FlowStickyProgramTests
{
    private static readonly IPAddress V4Client = IPAddress.Parse("192.0.2.17");
    private static readonly IPAddress V6Client = IPAddress.Parse("2001:db8::1:2:3:4");

    [Theory]
    [InlineData(0, 1)]
    [InlineData(0, 2)]
    [InlineData(1, 3)]
    [InlineData(1, 4)]
    [InlineData(1, 8)]
    [InlineData(5, 7)]
    [InlineData(9, 20)]
    public void Program_must_route_the_same_id_to_the_same_position_from_any_source(int offset, int length)
    {
        var buckets = Enumerable.Range(0, 16).Select(b => new[] { 0, 2, 3 }[b % 3]).ToList();
        var program = ReuseportSteeringProgram.FlowSticky(4, new FlowIdLocation(offset, length), buckets);
        var random = new Random(offset * 100 + length);
        var seen = new HashSet<uint>();
        for (int flow = 0; flow < 300; flow++)
        {
            var payload = new byte[offset + length + random.Next(0, 30)];
            random.NextBytes(payload);
            uint expected = (uint)program.PositionFor(new IPEndPoint(V4Client, 1), payload);
            for (int port = 1000; port < 66000; port += 13_000)
            {
                foreach (var client in new[] { V4Client, V6Client })
                {
                    var (packet, data) = Udp(new IPEndPoint(client, port), payload);
                    Assert.Equal(expected, Run(program.Instructions, packet, data));
                }
            }

            // Bytes outside the id do not count.
            payload[^1] ^= (byte)(payload.Length > offset + length ? 0xff : 0);
            var (changed, changedData) = Udp(new IPEndPoint(V4Client, 9), payload);
            Assert.Equal(expected, Run(program.Instructions, changed, changedData));
            seen.Add(expected);
        }

        Assert.Equal(new uint[] { 0, 2, 3 }, seen.Order());
    }

    [Fact]
    public void A_datagram_too_short_for_the_id_must_go_by_its_source_to_a_position_the_buckets_name()
    {
        var location = new FlowIdLocation(1, 8);
        var program = ReuseportSteeringProgram.FlowSticky(5, location, [4, 1, 4, 1, 3]);
        Assert.Equal(new[] { 4, 1, 3 }, program.AcceptingPositions);
        var seen = new HashSet<uint>();
        for (int port = 0; port < 4000; port++)
        {
            foreach (var client in new[] { V4Client, V6Client })
            {
                var source = new IPEndPoint(client, port);
                var payload = new byte[port % location.End]; // 0..8 bytes: never the whole id
                var (packet, data) = Udp(source, payload);
                uint position = Run(program.Instructions, packet, data);
                Assert.Equal((uint)program.PositionFor(source, payload), position);
                Assert.Equal(program.PositionFor(source), program.PositionFor(source, payload));
                seen.Add(position);
            }
        }

        Assert.Equal(new uint[] { 1, 3, 4 }, seen.Order());
    }

    [Fact]
    public void Ids_must_spread_evenly_over_the_buckets()
    {
        var counts = new int[8];
        var random = new Random(7);
        var id = new byte[8];
        for (int i = 0; i < 80_000; i++)
        {
            random.NextBytes(id);
            counts[ReuseportSteeringProgram.BucketOf(id, 8)]++;
        }

        Assert.All(counts, c => Assert.InRange(c, 9_000, 11_000));

        // Sequential ids (a counter in the id's last bytes) spread too.
        Array.Clear(counts);
        for (int i = 0; i < 80_000; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(id.AsSpan(4), i);
            counts[ReuseportSteeringProgram.BucketOf(id, 8)]++;
        }

        Assert.All(counts, c => Assert.InRange(c, 9_000, 11_000));
    }

    [Fact]
    public void Bad_locations_and_tables_must_be_refused_naming_what_is_wrong()
    {
        Assert.Contains("negative", Assert.Throws<ArgumentOutOfRangeException>(() => new FlowIdLocation(-1, 4)).Message);
        Assert.Contains("1..20", Assert.Throws<ArgumentOutOfRangeException>(() => new FlowIdLocation(0, 21)).Message);
        Assert.Contains("1..20", Assert.Throws<ArgumentOutOfRangeException>(() => new FlowIdLocation(0, 0)).Message);
        Assert.Contains("largest UDP payload", Assert.Throws<ArgumentOutOfRangeException>(() => new FlowIdLocation(65500, 8)).Message);
        Assert.Contains("flow id location", Assert.Throws<ArgumentException>(() => ReuseportSteeringProgram.FlowSticky(2, default, [0])).Message);
        Assert.Contains("outside the group", Assert.Throws<ArgumentException>(() => ReuseportSteeringProgram.FlowSticky(2, new FlowIdLocation(0, 4), [0, 2])).Message);
        Assert.Contains("1..1024 buckets", Assert.Throws<ArgumentException>(() => ReuseportSteeringProgram.FlowSticky(2, new FlowIdLocation(0, 4), [])).Message);
        Assert.Contains(
            "more than the kernel's 4096",
            Assert.Throws<ArgumentException>(() => ReuseportSteeringProgram.FlowSticky(1024, new FlowIdLocation(0, 4), Enumerable.Range(0, 1024).ToList())).Message);
        Assert.Contains(
            "by flow id at offset 1, 8 bytes over 2 buckets",
            ReuseportSteeringProgram.FlowSticky(2, new FlowIdLocation(1, 8), [1, 0]).ToString());
    }
}
