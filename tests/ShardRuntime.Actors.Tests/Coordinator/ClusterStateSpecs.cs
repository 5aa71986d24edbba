using ShardRuntime.Actors.Coordination;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using ShardRuntime.Actors.Handlers;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Actors.Tests.Support;
using Xunit.Abstractions;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Tests.Coordinator;

/// <summary>
/// The cluster's desired state as the coordinator follows it (<see cref="CoordinatorProtocol.ApplyClusterState"/>):
/// overrides over the node's own listeners, real sockets on 127.0.0.1.
/// </summary>
public sealed class ClusterStateSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    private const string OwnListeners = """
        a { endpoint = "127.0.0.1:0", handler = echo, shards = 1 }
        b { endpoint = "127.0.0.1:0", handler = echo, shards = 2 }
        g { endpoint = "127.0.0.1:0", handler = generation-echo, shards = 1 }
        """;

    private static readonly ShardRuntimeSettings Settings = Specs.Settings(OwnListeners);

    private static HandlerCatalog Handlers() => HandlerCatalog.WithBuiltIns().Add(new GenerationEchoFactory());

    private IActorRef Start() => Specs.StartCoordinator(Sys, Settings, Handlers());

    /// <summary>A listener only the cluster defines, read as the cluster actor reads it: over the node's defaults.</summary>
    private static ListenerSettings Defined(string name, string hocon) =>
        Settings.ReadListener(name, ConfigurationFactory.ParseString(hocon), $"cluster.listeners.{name}");

    private static CoordinatorProtocol.ClusterOverride Scaled(string listener, int shards, int generation = 1) =>
        new(listener, true, shards, null, generation);

    private static CoordinatorProtocol.ClusterOverride NotServed(string listener) => new(listener, false, null, null, 1);

    private static CoordinatorProtocol.ClusterOverride Generation(string listener, int generation) => new(listener, true, null, null, generation);

    /// <summary>The coordinator's answer to the overrides: its reply, or the refusal that Ask threw.</summary>
    private static async Task<object> ApplyAsync(IActorRef coordinator, params CoordinatorProtocol.ClusterOverride[] overrides)
    {
        try
        {
            return await coordinator.Ask<object>(new CoordinatorProtocol.ApplyClusterState(overrides), Clients.Timeout);
        }
        catch (CommandFailedException refused)
        {
            return refused;
        }
    }

    private static async Task AppliedAsync(IActorRef coordinator, params CoordinatorProtocol.ClusterOverride[] overrides) =>
        Assert.Empty(Assert.IsType<CoordinatorProtocol.ClusterStateApplied>(await ApplyAsync(coordinator, overrides)).Problems);

    /// <summary>The listener's desired shard count, once every other shard has retired.</summary>
    private async Task AssertShardsAsync(IActorRef coordinator, string listener, int shards) =>
        await AwaitAssertAsync(() =>
        {
            var status = Specs.Listener(coordinator, listener);
            Assert.Equal(shards, status.DesiredShards);
            Assert.Equal(shards, status.Shards.Count);
            Assert.All(status.Shards, s => Assert.Equal("accepting", s.State));
        }, Clients.Timeout);

    /// <summary>The node's listeners are <paramref name="names"/>, once any it retired has drained (a retiring one is still listed).</summary>
    private async Task AssertListenersAsync(IActorRef coordinator, params string[] names) =>
        await AwaitAssertAsync(() =>
            Assert.Equal(names, Specs.Status(coordinator).Listeners.Select(l => l.Name).Order(StringComparer.Ordinal)), Clients.Timeout);

    /// <summary>One round trip on a new connection; <paramref name="prefix"/> is the length the handler puts in front (generation-echo: 2).</summary>
    private static async Task<string> EchoAsync(IPEndPoint endPoint, string text, int prefix = 0)
    {
        using var client = await Clients.ConnectAsync(endPoint);
        await Clients.SendAsync(client, text);
        return Encoding.ASCII.GetString(await Clients.ReceiveExactlyAsync(client, prefix + text.Length));
    }

    /// <summary>The node's own <see cref="CoordinatorProtocol.ScaleTo"/>, which must be refused: why.</summary>
    private static async Task<string> LocalScaleRefusedAsync(IActorRef coordinator, string listener, int shards)
    {
        var refused = await Assert.ThrowsAsync<CommandFailedException>(() => coordinator.Ask<CoordinatorProtocol.ScaledTo>(new CoordinatorProtocol.ScaleTo(listener, shards), Clients.Timeout));
        return refused.Reason;
    }

    /// <summary>Once the listener retired, nothing listens on its port any more.</summary>
    private async Task AssertRefusedAsync(IPEndPoint endPoint) =>
        await AwaitAssertAsync(async () =>
        {
            var refused = await Assert.ThrowsAnyAsync<SocketException>(async () =>
            {
                using var client = await Clients.ConnectAsync(endPoint);
            });
            Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        }, Clients.Timeout);

    [Fact]
    public async Task Cluster_shards_must_set_the_listeners_shard_count_on_its_port_until_the_cluster_leaves_it_to_the_node()
    {
        var coordinator = Start();
        var endPoint = Specs.EndPoint(coordinator, "a");

        await AppliedAsync(coordinator, Scaled("a", 3));
        await AssertShardsAsync(coordinator, "a", 3);
        Assert.Equal(endPoint, Specs.EndPoint(coordinator, "a"));
        Assert.Equal("x", await EchoAsync(endPoint, "x"));

        // The cluster stops setting it: the node's own count (1) again.
        await AppliedAsync(coordinator, Generation("a", 1));
        await AssertShardsAsync(coordinator, "a", 1);
        await AssertShardsAsync(coordinator, "b", 2);
    }

    [Fact]
    public async Task A_listener_the_cluster_does_not_serve_on_this_node_must_retire_and_come_back_when_it_does()
    {
        var coordinator = Start();
        var endPoint = Specs.EndPoint(coordinator, "b");

        await AppliedAsync(coordinator, NotServed("b"));

        await AssertListenersAsync(coordinator, "a", "g");
        await AssertRefusedAsync(endPoint);

        await AppliedAsync(coordinator, Generation("b", 1));
        await AssertListenersAsync(coordinator, "a", "b", "g");
        await AssertShardsAsync(coordinator, "b", 2);
        Assert.Equal("y", await EchoAsync(Specs.EndPoint(coordinator, "b"), "y"));
    }

    [Fact]
    public async Task A_cluster_definition_must_add_a_listener_the_nodes_file_does_not_have()
    {
        var coordinator = Start();

        await AppliedAsync(coordinator, new CoordinatorProtocol.ClusterOverride("c", true, null,
            Defined("c", """endpoint = "127.0.0.1:0", handler = echo, shards = 2"""), 1));

        await AssertListenersAsync(coordinator, "a", "b", "c", "g");
        var c = Specs.Listener(coordinator, "c");
        Assert.Equal("echo", c.Handler);
        await AssertShardsAsync(coordinator, "c", 2);
        Assert.Equal("defined", await EchoAsync(IPEndPoint.Parse(c.EndPoint), "defined"));

        // With shards set too, the cluster's count wins over the definition's.
        await AppliedAsync(coordinator, new CoordinatorProtocol.ClusterOverride("c", true, 4,
            Defined("c", """endpoint = "127.0.0.1:0", handler = echo, shards = 2"""), 1));
        await AssertShardsAsync(coordinator, "c", 4);
    }

    [Fact]
    public async Task The_nodes_own_listeners_applied_again_must_keep_the_cluster_overrides_on_top()
    {
        var coordinator = Start();
        var defined = Defined("c", """endpoint = "127.0.0.1:0", handler = echo, shards = 1""");
        await AppliedAsync(coordinator, Scaled("a", 3), NotServed("b"), new CoordinatorProtocol.ClusterOverride("c", true, null, defined, 1));

        // The node's file changes: b and a differently sized, d added.
        var own = Specs.Settings(OwnListeners.Replace("shards = 2", "shards = 1") + "\nd { endpoint = \"127.0.0.1:0\", handler = echo, shards = 2 }").Listeners;
        var applied = await coordinator.Ask<object>(new CoordinatorProtocol.ApplySettings(own), Clients.Timeout);

        Assert.IsType<CoordinatorProtocol.SettingsApplied>(applied);
        await AssertListenersAsync(coordinator, "a", "c", "d", "g");
        await AssertShardsAsync(coordinator, "a", 3);
        await AssertShardsAsync(coordinator, "c", 1);
        await AssertShardsAsync(coordinator, "d", 2);
    }

    [Fact]
    public async Task A_reload_of_the_nodes_file_must_keep_the_cluster_overrides_on_top()
    {
        var file = Settings.Listeners;
        var coordinator = Sys.ActorOf(CoordinatorProtocol.Props(Settings, Handlers(), readListeners: () => file), CoordinatorProtocol.ActorName);
        Assert.IsType<CoordinatorProtocol.Started>(await coordinator.Ask<object>(CoordinatorProtocol.WaitUntilStarted.Instance, Clients.Timeout));
        await AppliedAsync(coordinator, Scaled("a", 2), NotServed("g"));

        file = Specs.Settings(OwnListeners.Replace("shards = 1", "shards = 3")).Listeners; // a and g: 3 shards each
        var reloaded = await coordinator.Ask<object>(new CoordinatorProtocol.Reload(null), Clients.Timeout);

        Assert.IsType<CoordinatorProtocol.Reloaded>(reloaded);
        await AssertListenersAsync(coordinator, "a", "b");
        await AssertShardsAsync(coordinator, "a", 2);
    }

    [Fact]
    public async Task A_local_scale_of_a_listener_the_cluster_scales_or_defines_must_be_refused_pointing_at_scale_with_cluster()
    {
        var coordinator = Start();
        await AppliedAsync(coordinator, Scaled("a", 3),
            new CoordinatorProtocol.ClusterOverride("c", true, null, Defined("c", """endpoint = "127.0.0.1:0", handler = echo, shards = 1"""), 1));

        var scaled = await LocalScaleRefusedAsync(coordinator, "a", 2);
        var defined = await LocalScaleRefusedAsync(coordinator, "c", 2);

        Assert.Contains("scaled by the cluster's desired state (3 shards on this node)", scaled);
        Assert.Contains("`scale a 2 --cluster`", scaled);
        Assert.Contains("defined by the cluster's desired state", defined);
        Assert.Contains("`scale c 2 --cluster`", defined);
        await AssertShardsAsync(coordinator, "a", 3);
        await AssertShardsAsync(coordinator, "c", 1);
    }

    [Fact]
    public async Task A_local_scale_of_a_listener_the_cluster_leaves_to_the_node_must_survive_later_cluster_changes()
    {
        var coordinator = Start();
        await AppliedAsync(coordinator, Scaled("a", 2), Generation("b", 1));

        Assert.IsType<CoordinatorProtocol.ScaledTo>(await coordinator.Ask<object>(new CoordinatorProtocol.ScaleTo("b", 4), Clients.Timeout));
        await AppliedAsync(coordinator, Scaled("a", 3), Generation("b", 1));
        await AppliedAsync(coordinator, Scaled("a", 1));

        await AssertShardsAsync(coordinator, "a", 1);
        await AssertShardsAsync(coordinator, "b", 4);
    }

    [Fact]
    public async Task A_rising_cluster_handler_generation_must_reload_the_listener_but_its_first_sight_must_not()
    {
        var coordinator = Start();
        var endPoint = Specs.EndPoint(coordinator, "g");

        await AppliedAsync(coordinator, Generation("g", 5));
        await AppliedAsync(coordinator, Generation("g", 5));
        Assert.Equal(1, Specs.Listener(coordinator, "g").Generation);
        Assert.Equal("1:a", await EchoAsync(endPoint, "a", prefix: 2));

        await AppliedAsync(coordinator, Generation("g", 6));
        Assert.Equal(2, Specs.Listener(coordinator, "g").Generation);
        Assert.Equal("2:b", await EchoAsync(endPoint, "b", prefix: 2));

        // The same generation again, and a lower one (an older replica's), reload nothing.
        await AppliedAsync(coordinator, Generation("g", 6));
        await AppliedAsync(coordinator, Generation("g", 4));
        Assert.Equal(2, Specs.Listener(coordinator, "g").Generation);
        Assert.Equal(1, Specs.Listener(coordinator, "a").Generation);
    }

    [Fact]
    public async Task A_reload_with_the_clusters_generation_must_not_be_repeated_when_that_generation_arrives()
    {
        var coordinator = Start();

        var reloaded = await coordinator.Ask<object>(new CoordinatorProtocol.Reload("g", ClusterGeneration: 2), Clients.Timeout);
        Assert.Equal([new CoordinatorProtocol.ListenerGeneration("g", 2)], Assert.IsType<CoordinatorProtocol.Reloaded>(reloaded).Listeners);

        await AppliedAsync(coordinator, Generation("g", 2));
        Assert.Equal(2, Specs.Listener(coordinator, "g").Generation);

        await AppliedAsync(coordinator, Generation("g", 3));
        Assert.Equal(3, Specs.Listener(coordinator, "g").Generation);
    }

    [Fact]
    public async Task A_listener_the_node_cannot_serve_must_be_reported_and_hold_no_other_listener_back()
    {
        var coordinator = Start();
        // A port of this node that another socket (without SO_REUSEPORT) holds.
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        holder.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        holder.Listen();
        var taken = ((IPEndPoint)holder.LocalEndPoint!).Port;

        var answer = await ApplyAsync(coordinator, Scaled("a", 3),
            new CoordinatorProtocol.ClusterOverride("c", true, null, Defined("c", """endpoint = "127.0.0.1:0", handler = no-such-handler"""), 1),
            new CoordinatorProtocol.ClusterOverride("d", true, null, Defined("d", $$"""endpoint = "127.0.0.1:{{taken}}", handler = echo"""), 1),
            NotServed("b"));

        var problems = Assert.IsType<CoordinatorProtocol.ClusterStateApplied>(answer).Problems;
        Assert.Equal(2, problems.Count);
        Assert.Contains(problems, p => p.Contains("listener 'c'") && p.Contains("no-such-handler"));
        Assert.Contains(problems, p => p.Contains("listener 'd'") && p.Contains(taken.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        // The others followed: a scaled, b retired; c and d are nowhere.
        await AssertShardsAsync(coordinator, "a", 3);
        await AssertListenersAsync(coordinator, "a", "g");
        // Once the port is free, the same state applies in full.
        holder.Dispose();
        var again = await ApplyAsync(coordinator, Scaled("a", 3), NotServed("b"),
            new CoordinatorProtocol.ClusterOverride("d", true, null, Defined("d", $$"""endpoint = "127.0.0.1:{{taken}}", handler = echo"""), 1));
        Assert.Empty(Assert.IsType<CoordinatorProtocol.ClusterStateApplied>(again).Problems);
        await AssertListenersAsync(coordinator, "a", "d", "g");
    }

    [Fact]
    public async Task A_cluster_state_while_the_node_drains_must_be_refused()
    {
        var coordinator = Start();
        var drainer = CreateTestProbe();
        coordinator.Tell(new CoordinatorProtocol.Drain(TimeSpan.FromSeconds(5)), drainer);

        var answer = await ApplyAsync(coordinator, Scaled("a", 3));

        Assert.Contains("draining", Assert.IsType<CommandFailedException>(answer).Reason);
        drainer.ExpectMsg<CoordinatorProtocol.Drained>(Clients.Timeout);
    }
}
