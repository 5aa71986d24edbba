using System.Net;
using System.Net.Sockets;
using System.Text;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using ShardRuntime.Actors.Handlers;
using ShardRuntime.Actors.Listeners;
using ShardRuntime.Actors.Tests.Support;
using ShardRuntime.Runtime.Sockets;
using Xunit.Abstractions;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Tests.Datagrams;

/// <summary>UDP listeners on real sockets: a reuseport group of datagram sockets, each served by a UDP shard actor.</summary>
public sealed class DatagramListenerSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    private readonly ITestOutputHelper _output = output;

    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(5);

    private static string Loopback(string family) => family == "ipv6" ? "[::1]" : "127.0.0.1";

    private IActorRef Start(string listener, out DatagramGenerationEchoFactory factory, string family = "ipv4")
    {
        factory = new DatagramGenerationEchoFactory();
        return Specs.StartCoordinator(Sys, Specs.Settings(listener.Replace("LOOPBACK", Loopback(family))), HandlerCatalog.WithBuiltIns().Add(factory));
    }

    private static async Task<string> AskAsync(Socket client, IPEndPoint target, string text)
    {
        await client.SendToAsync(Encoding.ASCII.GetBytes(text), target);
        var buffer = new byte[2048];
        using var timeout = new CancellationTokenSource(ReplyTimeout);
        var received = await client.ReceiveFromAsync(buffer, new IPEndPoint(target.Address, 0), timeout.Token);
        return Encoding.ASCII.GetString(buffer, 0, received.ReceivedBytes);
    }

    [Theory]
    [InlineData("ipv4")]
    [InlineData("ipv6")]
    public async Task Udp_echo_must_answer_many_source_ports_over_every_shard(string family)
    {
        var coordinator = Start("""echo { endpoint = "LOOPBACK:0", protocol = udp, handler = udp-echo, shards = 4 }""", out _, family);
        var listener = Specs.Listener(coordinator, "echo");
        Assert.Equal("udp", listener.Protocol);
        Assert.Equal(4, listener.Shards.Count);
        var target = Specs.EndPoint(coordinator, "echo");
        var kernel = KernelSocketTable.ListListening(target.Port, TransportProtocol.Udp);
        Assert.Equal(listener.Shards.Select(s => s.SocketInode).Order(), kernel.Select(k => k.Inode).Order());

        const int ports = 200;
        for (var i = 0; i < ports; i++)
        {
            using var client = new Socket(target.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            Assert.Equal($"hello {i}", await AskAsync(client, target, $"hello {i}"));
        }

        await AwaitAssertAsync(() =>
        {
            var status = Specs.Listener(coordinator, "echo");
            Assert.Equal(ports, status.Datagrams!.Received);
            Assert.Equal(ports, status.Datagrams.Sent);
            Assert.Equal(0, status.Datagrams.Dropped);
            Assert.All(status.Shards, s => Assert.True(s.Datagrams!.Received > 0, $"shard {s.ShardId} received none of {ports}"));
            Assert.All(status.Shards, s => Assert.Equal("receiving", s.State));
        }, Clients.Timeout);
    }

    [Theory]
    [InlineData("ipv4")]
    [InlineData("ipv6")]
    public async Task Scaling_4_to_1_to_3_under_a_numbered_stream_must_lose_and_duplicate_nothing(string family)
    {
        var coordinator = Start("""g { endpoint = "LOOPBACK:0", protocol = udp, handler = generation-echo, shards = 4 }""", out _, family);
        var target = Specs.EndPoint(coordinator, "g");
        await using var stream = new NumberedDatagramStream(target, flows: 16, ReplyTimeout);
        await stream.ProgressAsync(500, Clients.Timeout);
        foreach (var shards in new[] { 1, 3 })
        {
            Assert.IsType<CoordinatorProtocol.ScaledTo>(await coordinator.Ask<object>(new CoordinatorProtocol.ScaleTo("g", shards), Clients.Timeout));
            await AwaitAssertAsync(() =>
            {
                var status = Specs.Listener(coordinator, "g");
                Assert.Equal(shards, status.Shards.Count); // the retired ones closed (drained) and left
                Assert.Equal(shards, KernelSocketTable.ListListening(target.Port, TransportProtocol.Udp).Count);
            }, Clients.Timeout);
            await stream.ProgressAsync(500, Clients.Timeout);
        }
        await stream.DisposeAsync();

        _output.WriteLine($"sent {stream.Sent}, answered {stream.Answered}, lost {stream.Lost}, duplicated {stream.Duplicated}");
        Assert.Equal(0, stream.Lost);
        Assert.Equal(0, stream.Duplicated);
        Assert.Equal(stream.Sent, stream.Answered);
    }

    [Fact]
    public async Task A_reload_under_a_stream_must_serve_every_datagram_with_exactly_one_generation()
    {
        var coordinator = Start("""g { endpoint = "127.0.0.1:0", protocol = udp, handler = generation-echo, shards = 2 }""", out var factory);
        var target = Specs.EndPoint(coordinator, "g");
        await using var stream = new NumberedDatagramStream(target, flows: 8, ReplyTimeout);
        await stream.ProgressAsync(300, Clients.Timeout);
        for (var reload = 0; reload < 3; reload++)
        {
            Assert.IsType<CoordinatorProtocol.Reloaded>(await coordinator.Ask<object>(new CoordinatorProtocol.Reload("g"), Clients.Timeout));
            await stream.ProgressAsync(300, Clients.Timeout);
        }
        await stream.DisposeAsync();

        _output.WriteLine($"answered {stream.Answered}: {string.Join(", ", stream.Prefixes.Select(p => $"{p.Key} {p.Value}"))}");
        Assert.Equal(0, stream.Lost);
        Assert.Equal(0, stream.Duplicated);
        // Every reply names exactly one generation, each of the four served some, and the last serves now.
        Assert.Equal(["g1", "g2", "g3", "g4"], stream.Prefixes.Keys.Order());
        Assert.Equal(stream.Sent, stream.Prefixes.Values.Sum());
        await AwaitAssertAsync(() =>
        {
            // Each replaced handler (3 generations x 2 shards) was stopped once, in its own generation.
            Assert.Equal(6, factory.Stopped.Count);
            Assert.Equal([1, 1, 2, 2, 3, 3], factory.Stopped.Select(s => s.Generation).Order());
            var status = Specs.Listener(coordinator, "g");
            Assert.Equal(4, status.Generation);
            Assert.Single(status.Generations); // the old ones unloaded: their leases were released
        }, Clients.Timeout);
    }

    [Fact]
    public async Task A_handler_must_reach_its_shard_actor_and_answer_from_OnMessage()
    {
        var coordinator = Specs.StartCoordinator(Sys, Specs.Settings("""rt { endpoint = "127.0.0.1:0", protocol = udp, handler = actor-round-trip, shards = 1 }"""),
            HandlerCatalog.WithBuiltIns().Add(new ActorRoundTripFactory()));
        var target = Specs.EndPoint(coordinator, "rt");
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        client.Bind(new IPEndPoint(IPAddress.Loopback, 0));

        // No reply from OnDatagram: the handler told its shard actor, whose message reached OnMessage, which sent this.
        Assert.Equal("from-actor 0", await AskAsync(client, target, "ping"));
    }

    [Fact]
    public async Task A_throwing_handler_must_lose_only_its_own_datagram()
    {
        var coordinator = Start("""g { endpoint = "127.0.0.1:0", protocol = udp, handler = generation-echo, shards = 1 }""", out _);
        var target = Specs.EndPoint(coordinator, "g");
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        Assert.Equal("g1:before", await AskAsync(client, target, "before"));
        // The handler queued "g1:throw" before it threw: that reply must be discarded, the next datagram served.
        await client.SendToAsync("throw"u8.ToArray(), target);
        Assert.Equal("g1:after", await AskAsync(client, target, "after"));
        await AwaitAssertAsync(() =>
        {
            var status = Specs.Listener(coordinator, "g");
            Assert.Equal(1, status.Datagrams!.HandlerFailures);
            Assert.Equal(3, status.Datagrams.Received);
            Assert.Equal(2, status.Datagrams.Sent);
        }, Clients.Timeout);
    }

    [Fact]
    public async Task A_truncated_datagram_must_be_counted_and_dropped()
    {
        var coordinator = Start("""g { endpoint = "127.0.0.1:0", protocol = udp, handler = udp-echo, shards = 1, max-datagram-size = 64 }""", out _);
        var target = Specs.EndPoint(coordinator, "g");
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        await client.SendToAsync(new byte[65], target);
        Assert.Equal("short", await AskAsync(client, target, "short"));
        await AwaitAssertAsync(() => Assert.Equal(1, Specs.Listener(coordinator, "g").Datagrams!.DroppedTruncated), Clients.Timeout);
    }

    [Fact]
    public async Task A_parked_shard_must_not_receive_and_must_serve_what_queued_once_resumed()
    {
        var coordinator = Start("""g { endpoint = "127.0.0.1:0", protocol = udp, handler = generation-echo, shards = 1 }""", out _);
        var target = Specs.EndPoint(coordinator, "g");
        var group = await Sys.ActorSelection("/user/shard-runtime/group-*").ResolveOne(Clients.Timeout);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        Assert.Equal("g1:one", await AskAsync(client, target, "one"));

        group.Tell(Group.Park.Instance);
        // The group handled Park (told the shard) before it answers; the shard then handles Park before Identify.
        await group.Ask<Group.Sockets>(Group.GetSockets.Instance, Clients.Timeout);
        var shard = await Specs.ShardAsync(Sys, "g", 0);
        await shard.Ask<ActorIdentity>(new Identify(null), Clients.Timeout);
        await client.SendToAsync("parked"u8.ToArray(), target);
        // It stays in the kernel's queue: nothing answers while parked.
        var buffer = new byte[64];
        using (var quiet = new CancellationTokenSource(TimeSpan.FromMilliseconds(500)))
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await client.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), quiet.Token));
        Assert.False(KernelQueueEmpty(coordinator), "the datagram sent to the parked shard must wait in the kernel's queue");

        group.Tell(Group.Resume.Instance);
        using var timeout = new CancellationTokenSource(ReplyTimeout);
        var received = await client.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), timeout.Token);
        Assert.Equal("g1:parked", Encoding.ASCII.GetString(buffer, 0, received.ReceivedBytes));
        Assert.False(shard.IsNobody());
    }

    /// <summary>Whether the kernel's UDP table shows nothing queued for the listener's socket (rx_queue 0).</summary>
    private static bool KernelQueueEmpty(IActorRef coordinator)
    {
        var port = Specs.EndPoint(coordinator, "g").Port;
        foreach (var line in File.ReadLines("/proc/net/udp").Skip(1))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (Convert.ToInt32(fields[1].Split(':')[1], 16) != port) continue;
            return Convert.ToInt64(fields[4].Split(':')[1], 16) == 0;
        }
        throw new InvalidOperationException($"no udp socket on port {port} in /proc/net/udp");
    }
}
