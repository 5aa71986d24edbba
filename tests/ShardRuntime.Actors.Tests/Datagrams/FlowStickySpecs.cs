using System.Net;
using System.Net.Sockets;
using System.Text;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using ShardRuntime.Actors.Handlers;
using ShardRuntime.Actors.Tests.Support;
using Xunit.Abstractions;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Tests.Datagrams;

/// <summary>
/// flow-id { offset, length }: a UDP listener's group routes datagrams by an id in their payload, so a flow keeps its
/// shard whatever source port it comes from and while the listener scales. The control case (no flow-id) shows the
/// same flows spread by source port.
/// </summary>
public sealed class FlowStickySpecs(ITestOutputHelper output) : TestKit(output: output)
{
    private const int Flows = 24;
    private const int Rounds = 4;

    private IActorRef Start(string flowId) => Specs.StartCoordinator(Sys,
        Specs.Settings($$"""q { endpoint = "127.0.0.1:0", protocol = udp, handler = shard-echo, shards = 4, {{flowId}} }"""),
        HandlerCatalog.WithBuiltIns().Add(new ShardEchoFactory()));

    /// <summary>
    /// Waits until the group handled what it was told before (the coordinator's Join or Retire, each followed by its
    /// steering): it answers GetSockets in order. Started and ScaledTo come before the group had its turn.
    /// </summary>
    private async Task GroupSteeredAsync()
    {
        var group = await Sys.ActorSelection("/user/shard-runtime/group-*").ResolveOne(Clients.Timeout);
        await group.Ask<ShardRuntime.Actors.Listeners.Group.Sockets>(ShardRuntime.Actors.Listeners.Group.GetSockets.Instance, Clients.Timeout);
    }

    /// <summary>Each flow's datagrams, each from a fresh source port: the shards that answered each flow.</summary>
    private static async Task<Dictionary<int, HashSet<int>>> ShardsPerFlowAsync(IPEndPoint target)
    {
        var seen = Enumerable.Range(0, Flows).ToDictionary(f => f, _ => new HashSet<int>());
        var buffer = new byte[64];
        for (var round = 0; round < Rounds; round++)
        {
            for (var flow = 0; flow < Flows; flow++)
            {
                using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                // The flow id: 8 bytes at offset 2 of the payload, after a 2-byte header that differs per datagram.
                var payload = Encoding.ASCII.GetBytes($"{round % 10}{flow % 10}flow{flow:D4}-and-more");
                await client.SendToAsync(payload, target);
                using var timeout = new CancellationTokenSource(Clients.Timeout);
                var received = await client.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), timeout.Token);
                seen[flow].Add(int.Parse(Encoding.ASCII.GetString(buffer, 0, received.ReceivedBytes), System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        return seen;
    }

    [Fact]
    public async Task Without_a_flow_id_the_kernel_must_spread_one_flow_by_source_port()
    {
        var coordinator = Start("flow-id.length = 0");
        var seen = await ShardsPerFlowAsync(Specs.EndPoint(coordinator, "q"));

        // The control case: with fresh source ports, most flows reach more than one shard.
        Assert.True(seen.Values.Count(s => s.Count > 1) > Flows / 2, string.Join(" ", seen.Select(s => $"{s.Key}:{string.Join(",", s.Value)}")));
    }

    [Fact]
    public async Task A_flow_must_keep_its_shard_from_any_source_port_and_while_the_listener_shrinks()
    {
        var coordinator = Start("flow-id { offset = 2, length = 8 }");
        var target = Specs.EndPoint(coordinator, "q");
        await GroupSteeredAsync();

        var before = await ShardsPerFlowAsync(target);
        Assert.All(before, f => Assert.Single(f.Value)); // one shard per flow, whatever the source port
        Assert.True(before.Values.Select(s => s.Single()).Distinct().Count() >= 3, "the flows should be spread over the shards");

        Assert.IsType<CoordinatorProtocol.ScaledTo>(await coordinator.Ask<object>(new CoordinatorProtocol.ScaleTo("q", 2), Clients.Timeout));
        await AwaitAssertAsync(() => Assert.Equal(2, Specs.Listener(coordinator, "q").Shards.Count), Clients.Timeout);
        await GroupSteeredAsync();
        var after = await ShardsPerFlowAsync(target);

        foreach (var (flow, shards) in before)
        {
            var now = Assert.Single(after[flow]);
            // Flows of the shards that stay did not move; those of the retired ones went to the two left.
            if (shards.Single() < 2) Assert.Equal(shards.Single(), now);
            else Assert.InRange(now, 0, 1);
        }
    }
}
