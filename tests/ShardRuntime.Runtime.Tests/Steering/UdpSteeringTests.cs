using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using ShardRuntime.Runtime.Sockets;
using ShardRuntime.Runtime.Sockets.Udp;
using static ShardRuntime.Runtime.Tests.Sockets.SocketTestKit;
using static ShardRuntime.Runtime.Tests.Sockets.UdpTestKit;
using static ShardRuntime.Runtime.Tests.Steering.SteeringTestKit;

namespace ShardRuntime.Runtime.Tests.Steering;

public sealed class UdpSteeringTests
{
    private const int Chunk = 200; // datagrams sent before they are read: well within a socket's receive buffer

    [SkippableTheory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public void Steering_away_from_one_UDP_member_must_send_it_no_datagram_and_the_others_all(string address)
    {
        var shards = BindUdpGroup(address, 3);
        var ip = IPAddress.Parse(address);
        var senders = Enumerable.Range(0, 100).Select(_ => Sender(ip)).ToList();
        using var batch = new DatagramBatch(64, 64);
        try
        {
            var group = GroupOf(shards);
            group.MarkRetiring(shards[1]);
            var program = group.ApplySteering()!;

            var got = shards.Select(_ => new List<int>()).ToList();
            for (int start = 0; start < 2000; start += Chunk)
            {
                for (int k = start; k < start + Chunk; k++)
                {
                    senders[k % senders.Count].SendTo(BitConverter.GetBytes(k), shards[0].LocalEndPoint!);
                }

                Assert.Equal(Chunk, ReceiveUntil(batch, shards, Chunk, (member, payload, _) => got[member].Add(BitConverter.ToInt32(payload))));
            }

            Assert.Empty(got[1]);
            Assert.NotEmpty(got[0]);
            Assert.NotEmpty(got[2]);
            Assert.Equal(Enumerable.Range(0, 2000), got.SelectMany(g => g).Order());
            Assert.All(
                Enumerable.Range(0, 2000),
                k => Assert.Contains(k, got[program.PositionFor(EndPointOf(senders[k % senders.Count]))]));
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
    public void A_flow_sticky_group_must_keep_each_id_on_its_socket_from_any_source_port_while_a_member_retires_and_closes(string address)
    {
        var shards = BindUdpGroup(address, 3);
        var ip = IPAddress.Parse(address);
        var senders = Enumerable.Range(0, 40).Select(_ => Sender(ip)).ToList();
        using var batch = new DatagramBatch(64, 64);
        var ids = Enumerable.Range(0, 50).Select(i => BitConverter.GetBytes(0x5eed_0000_0000_0000L + (long)i * 7_919)).ToList();
        var location = new FlowIdLocation(1, 8);
        var open = shards.ToList();
        try
        {
            var group = GroupOf(shards);
            group.RouteByFlowId(location, 64);
            var program = group.ApplySteering()!;

            var first = PlaceIds(open, senders, ids, batch, round: 0);
            Assert.True(first.Values.Distinct().Count() == 3, "50 ids should use all 3 sockets");
            Assert.All(first, kv => Assert.Same(group.Members[program.PositionFor(EndPointOf(senders[0]), Payload(ids[kv.Key], 0))], kv.Value));

            // Steer away from the member with the most ids: its ids move, every other id stays.
            var retiring = first.Values.GroupBy(s => s).OrderByDescending(g => g.Count()).First().Key;
            group.MarkRetiring(retiring);
            group.ApplySteering();
            var second = PlaceIds(open, senders, ids, batch, round: 1);
            Assert.DoesNotContain(retiring, second.Values);
            Assert.All(first.Where(kv => kv.Value != retiring), kv => Assert.Same(kv.Value, second[kv.Key]));

            // Datagrams too short for the id go by their source, never to the retiring member either.
            var shortOnes = new List<int>();
            foreach (var sender in senders)
            {
                sender.SendTo(new byte[] { 0x40, 1, 2 }, shards[0].LocalEndPoint!);
            }

            Assert.Equal(senders.Count, ReceiveUntil(batch, open, senders.Count, (member, _, _) => shortOnes.Add(member)));
            Assert.DoesNotContain(open.IndexOf(retiring), shortOnes);

            // It closes (the kernel moves the last member into its slot): after re-steering, nobody moves.
            retiring.Dispose();
            group.Remove(retiring);
            open.Remove(retiring);
            group.ApplySteering();
            var third = PlaceIds(open, senders, ids, batch, round: 2);
            Assert.All(second, kv => Assert.Same(kv.Value, third[kv.Key]));
        }
        finally
        {
            DisposeAll(senders);
            DisposeAll(shards);
        }
    }

    /// <summary>Sends 4 datagrams per id, each from another source port, and returns the one socket each id reached.</summary>
    private static Dictionary<int, Socket> PlaceIds(List<Socket> members, List<Socket> senders, List<byte[]> ids, DatagramBatch batch, int round)
    {
        var target = members[0].LocalEndPoint!;
        var reached = ids.Select(_ => new HashSet<Socket>()).ToList();
        for (int i = 0; i < ids.Count; i++)
        {
            for (int j = 0; j < 4; j++)
            {
                senders[(i * 3 + j * 7 + round * 11) % senders.Count].SendTo(Payload(ids[i], i), target);
            }
        }

        int received = ReceiveUntil(
            batch, members, ids.Count * 4, (member, payload, _) => reached[BinaryPrimitives.ReadInt32BigEndian(payload[9..])].Add(members[member]));
        Assert.Equal(ids.Count * 4, received);
        Assert.All(reached, sockets => Assert.Single(sockets));
        return Enumerable.Range(0, ids.Count).ToDictionary(i => i, i => reached[i].Single());
    }

    /// <summary>A QUIC-like short header: one flags byte, the 8-byte id, then the id's index (which the program ignores).</summary>
    private static byte[] Payload(byte[] id, int index)
    {
        var payload = new byte[13];
        payload[0] = 0x40;
        id.CopyTo(payload, 1);
        BinaryPrimitives.WriteInt32BigEndian(payload.AsSpan(9), index);
        return payload;
    }
}
