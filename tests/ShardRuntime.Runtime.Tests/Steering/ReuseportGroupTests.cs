using System.Net.Sockets;
using ShardRuntime.Runtime.Sockets;
using static ShardRuntime.Runtime.Tests.Sockets.SocketTestKit;
using static ShardRuntime.Runtime.Tests.Steering.SteeringTestKit;

namespace ShardRuntime.Runtime.Tests.Steering;

public sealed class ReuseportGroupTests
{
    [Fact]
    public void Group_must_move_the_last_member_into_the_slot_of_one_that_leaves()
    {
        var shards = BindShards(4);
        try
        {
            var group = GroupOf(shards);
            Assert.Same(shards[3], group.Remove(shards[1]));
            Assert.Equal([shards[0], shards[3], shards[2]], group.Members);
            Assert.Null(group.Remove(shards[2]));
            Assert.Equal([shards[0], shards[3]], group.Members);
            Assert.Throws<InvalidOperationException>(() => group.PositionOf(shards[1]));
        }
        finally
        {
            DisposeAll(shards);
        }
    }

    [Fact]
    public async Task Group_model_must_match_the_kernel_positions_before_and_after_members_close()
    {
        var shards = BindShards(4);
        try
        {
            var group = GroupOf(shards);
            await AssertPositionsMatchKernelAsync(group);

            // Close a middle member: the last one takes its slot.
            shards[1].Dispose();
            group.Remove(shards[1]);
            Assert.Equal([shards[0], shards[3], shards[2]], group.Members);
            await AssertPositionsMatchKernelAsync(group);

            // Close the first: again the last takes its slot.
            shards[0].Dispose();
            group.Remove(shards[0]);
            Assert.Equal([shards[2], shards[3]], group.Members);
            await AssertPositionsMatchKernelAsync(group);

            // A socket that joins later takes the last position.
            var late = ReuseportSocketFactory.Instance.Bind(new ListenerSocketOptions(new(System.Net.IPAddress.Loopback, PortOf(shards[2]))));
            shards.Add(late);
            group.Add(late);
            Assert.Equal(2, group.PositionOf(late));
            await AssertPositionsMatchKernelAsync(group);
        }
        finally
        {
            DisposeAll(shards);
        }
    }

    [Fact]
    public async Task Group_must_rebuild_the_program_so_a_retiring_member_gets_nothing_after_another_member_closes()
    {
        var shards = BindShards(4);
        var clients = new List<Socket>();
        try
        {
            var group = GroupOf(shards);
            group.MarkRetiring(shards[3]);
            Assert.Equal([0, 1, 2], group.ApplySteering()!.AcceptingPositions.ToArray());

            // shards[1] closes: shards[3] (retiring) moves to position 1, and the program must follow it.
            shards[1].Dispose();
            group.Remove(shards[1]);
            var program = group.ApplySteering()!;
            Assert.Equal([0, 2], program.AcceptingPositions.ToArray());
            Assert.Equal(1, group.PositionOf(shards[3]));

            clients = await ConnectAsync(shards[0].LocalEndPoint!, 100);
            int[] queued = await QueuedPerMemberAsync(group.Members, 100);
            Assert.Equal(0, queued[1]);
            Assert.True(queued[0] > 0 && queued[2] > 0, $"both accepting members should get connections: [{string.Join(", ", queued)}]");
        }
        finally
        {
            DisposeAll(clients);
            DisposeAll(shards);
        }
    }

    [Fact]
    public void Group_must_refuse_to_retire_its_last_accepting_member_and_detach_when_none_retires()
    {
        var shards = BindShards(2);
        try
        {
            var group = GroupOf(shards);
            Assert.Null(group.ApplySteering());
            group.MarkRetiring(shards[0]);
            Assert.Contains("last accepting member", Assert.Throws<InvalidOperationException>(() => group.MarkRetiring(shards[1])).Message);
        }
        finally
        {
            DisposeAll(shards);
        }
    }

    [Fact]
    public void ClosesNow_must_wait_for_every_retiring_member_then_close_from_the_end_and_at_most_one_further_in()
    {
        var shards = BindShards(5);
        try
        {
            var group = GroupOf(shards);
            var state = new Dictionary<Socket, DrainCheck?>
            {
                [shards[0]] = null, [shards[1]] = DrainCheck.Drained, [shards[2]] = null, [shards[3]] = DrainCheck.Draining, [shards[4]] = DrainCheck.Drained,
            };
            DrainCheck? Of(Socket s) => state[s];

            // One retiring member still drains: the others wait for it (closing one would move the last member).
            Assert.Empty(group.ClosesNow(Of));
            Assert.Equal([shards[4], shards[1]], group.ClosesNow(Of, closeEvery: true));

            // All due: the end first (4, 3), then one further in (1), whose close moves the last member.
            state[shards[3]] = DrainCheck.Overdue;
            Assert.Equal([shards[4], shards[3], shards[1]], group.ClosesNow(Of));

            // Two further in: only the one nearer the end closes now; the other drains again after the re-steer.
            state[shards[3]] = null;
            state[shards[4]] = null;
            state[shards[0]] = DrainCheck.Drained;
            Assert.Equal([shards[1]], group.ClosesNow(Of));

            // Nothing retires: nothing closes.
            Assert.Empty(group.ClosesNow(_ => null));
        }
        finally
        {
            DisposeAll(shards);
        }
    }

    /// <summary>Steers to each position in turn and checks that the model's socket at that position gets the connections.</summary>
    private static async Task AssertPositionsMatchKernelAsync(ReuseportGroup group)
    {
        var members = group.Members.ToList();
        for (int k = 0; k < members.Count; k++)
        {
            ReuseportSteering.Attach(members[0], ReuseportSteeringProgram.Create(members.Count, [k]));
            var clients = await ConnectAsync(members[0].LocalEndPoint!, 20);
            try
            {
                int[] queued = await QueuedPerMemberAsync(members, 20);
                Assert.True(queued[k] == 20, $"position {k}: expected all 20 on the model's socket, queues were [{string.Join(", ", queued)}]");
            }
            finally
            {
                DisposeAll(clients);
                AcceptAll(members);
            }
        }

        ReuseportSteering.Detach(members[0]);
    }
}
