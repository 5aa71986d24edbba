using System.Net.Sockets;
using Akka.Actor;
using Akka.Hosting;
using ShardRuntime.Actors.Hosting;
using ShardRuntime.Actors.Settings;
using Xunit.Abstractions;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.TestKit.Tests;

public sealed class ShardRuntimeTestNodeSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(output: output)
{
    private Task<ShardRuntimeTestNode> StartUpperAsync(int shards) =>
        ShardRuntimeTestNode.StartAsync(this, o =>
        {
            o.AddHandler(new TracingFactory("upper", () => new OneLinePerCall()));
            o.AddListener("upper", l => { l.EndPoint = "127.0.0.1:0"; l.Handler = "upper"; l.Shards = shards; });
        }, Clients.Timeout);

    [Fact]
    public async Task A_node_must_serve_a_code_handler_on_port_0_register_its_coordinator_and_answer_a_probe()
    {
        await using var node = await StartUpperAsync(shards: 2);
        var probe = CreateTestProbe();

        probe.Send(node.Coordinator, CoordinatorProtocol.GetStatus.Instance);
        var upper = Assert.Single(probe.ExpectMsg<CoordinatorProtocol.NodeStatus>(Clients.Timeout).Listeners);
        Assert.Equal(2, upper.Shards.Count(s => s.IsServing));
        Assert.Equal("upper", upper.Handler);
        var endPoint = await node.GetEndPointAsync("upper");
        Assert.NotEqual(0, endPoint.Port);
        Assert.Same(node.Coordinator, await ActorRegistry.For(Sys).GetAsync<CoordinatorProtocol.Marker>());

        using var client = await Clients.ConnectAsync(endPoint);
        await Clients.SendAsync(client, "shard me\n");
        Assert.Equal("SHARD ME\n"u8.ToArray(), await Clients.ReceiveExactlyAsync(client, 9));
    }

    [Fact]
    public async Task Probes_must_see_a_scale_up_and_watch_the_shards_that_a_scale_down_retires_stop()
    {
        await using var node = await StartUpperAsync(shards: 1);
        var probe = CreateTestProbe();

        probe.Send(node.Coordinator, new CoordinatorProtocol.ScaleTo("upper", 3));
        Assert.Equal(3, probe.ExpectMsg<CoordinatorProtocol.ScaledTo>(Clients.Timeout).Shards);
        var shards = await node.GetShardsAsync("upper");
        Assert.Equal(3, shards.Count);
        foreach (var shard in shards) probe.Watch(shard);

        Assert.Equal(1, (await node.ScaleToAsync("upper", 1)).Shards);
        var stopped = new[] { probe.ExpectMsg<Terminated>(Clients.Timeout), probe.ExpectMsg<Terminated>(Clients.Timeout) }
            .Select(t => t.ActorRef).ToHashSet();
        var serving = await node.GetShardsAsync("upper");

        Assert.Single(serving);
        Assert.Equal(shards.Except(serving).ToHashSet(), stopped);
        var status = await node.AwaitStatusAsync(s => s.Listeners.Single().Shards.Count == 1);
        Assert.True(status.Listeners.Single().Shards.Single().IsServing);
    }

    [Fact]
    public async Task A_refused_command_must_throw_with_the_coordinators_reason()
    {
        await using var node = await StartUpperAsync(shards: 1);

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => node.ScaleToAsync("nosuch", 2));

        Assert.Contains("nosuch", refused.Message);
        var missing = await Assert.ThrowsAsync<ArgumentException>(() => node.GetListenerAsync("nosuch"));
        Assert.Contains("it has: upper", missing.Message);
    }

    [Fact]
    public async Task A_status_condition_that_never_holds_must_time_out_naming_the_last_status()
    {
        await using var node = await StartUpperAsync(shards: 1);

        var late = await Assert.ThrowsAsync<TimeoutException>(() => node.AwaitStatusAsync(s => s.Listeners.Count == 2, TimeSpan.FromMilliseconds(300)));

        Assert.Contains("upper 127.0.0.1:", late.Message);
        Assert.Contains("0:accepting", late.Message);
    }

    [Fact]
    public async Task A_node_that_cannot_start_must_say_why()
    {
        var unknown = await Assert.ThrowsAnyAsync<Exception>(() => ShardRuntimeTestNode.StartAsync(this,
            o => o.AddListener("web", l => { l.EndPoint = "127.0.0.1:0"; l.Handler = "no-such-handler"; }), Clients.Timeout));
        Assert.Contains("no-such-handler", unknown.Message);

        var malformed = await Assert.ThrowsAsync<ShardRuntimeConfigurationException>(() => ShardRuntimeTestNode.StartAsync(this,
            o => o.AddListener("web", l => { l.EndPoint = "not an endpoint"; l.Handler = "echo"; }), Clients.Timeout));
        Assert.Contains("shard-runtime.listeners.web.endpoint", malformed.Message);

        var control = await Assert.ThrowsAsync<ArgumentException>(() => ShardRuntimeTestNode.StartAsync(this,
            o => o.EnableControlSocket = true, Clients.Timeout));
        Assert.Contains("EnableControlSocket", control.Message);
        Assert.False(ActorRegistry.For(Sys).TryGet<CoordinatorProtocol.Marker>(out _), "a refused node left a coordinator behind");
    }

    [Fact]
    public async Task A_second_node_in_the_same_actor_system_must_be_refused_until_the_first_is_disposed()
    {
        var first = await StartUpperAsync(shards: 1);

        var second = await Assert.ThrowsAsync<InvalidOperationException>(() => StartUpperAsync(shards: 1));
        Assert.Contains("runs in actor system", second.Message);
        await first.DisposeAsync();
        await using var again = await StartUpperAsync(shards: 1);
        Assert.Single((await again.GetStatusAsync()).Listeners);
    }

    [Fact]
    public async Task Disposing_must_close_the_listening_sockets()
    {
        var node = await StartUpperAsync(shards: 2);
        var endPoint = await node.GetEndPointAsync("upper");
        var probe = CreateTestProbe();
        probe.Watch(node.Coordinator);

        await node.DisposeAsync();

        probe.ExpectTerminated(node.Coordinator, Clients.Timeout);
        var refused = await Assert.ThrowsAnyAsync<SocketException>(() => Clients.ConnectAsync(endPoint));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }
}
