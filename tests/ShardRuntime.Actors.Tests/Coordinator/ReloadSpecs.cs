using ShardRuntime.Actors.Coordination;
using System.Net.Sockets;
using System.Text;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using ShardRuntime.Actors.Handlers;
using ShardRuntime.Actors.Tests.Support;
using Xunit.Abstractions;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Tests.Coordinator;

public sealed class ReloadSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    private IActorRef Start() => Specs.StartCoordinator(Sys,
        Specs.Settings("g { endpoint = \"127.0.0.1:0\", handler = generation-echo, shards = 2 }\ne { endpoint = \"127.0.0.1:0\", handler = echo, shards = 1 }"),
        HandlerCatalog.WithBuiltIns().Add(new GenerationEchoFactory()));

    private static async Task<string> RoundTrip(Socket client, string text)
    {
        await Clients.SendAsync(client, text);
        var expected = text.Length + 2; // "N:" in front, single-digit generations here
        return Encoding.ASCII.GetString(await Clients.ReceiveExactlyAsync(client, expected));
    }

    [Fact]
    public async Task A_reload_must_give_new_connections_the_new_generation_and_let_open_ones_finish_on_theirs()
    {
        var coordinator = Start();
        var endPoint = Specs.EndPoint(coordinator, "g");
        using var old = await Clients.ConnectAsync(endPoint);
        Assert.Equal("1:a", await RoundTrip(old, "a"));

        var reloaded = await coordinator.Ask<CoordinatorProtocol.Reloaded>(new CoordinatorProtocol.Reload("g"), Clients.Timeout);
        Assert.Equal([new CoordinatorProtocol.ListenerGeneration("g", 2)], reloaded.Listeners);

        using var fresh = await Clients.ConnectAsync(endPoint);
        Assert.Equal("2:b", await RoundTrip(fresh, "b"));
        Assert.Equal("1:c", await RoundTrip(old, "c"));

        var listener = Specs.Listener(coordinator, "g");
        Assert.Equal(2, listener.Generation);
        Assert.Equal([(2, true, 1), (1, false, 1)], listener.Generations.Select(g => (g.Generation, g.Current, g.OpenConnections)));

        // The old generation goes away with its last connection.
        old.Shutdown(SocketShutdown.Send);
        Assert.Equal("", await Clients.ReceiveToEndAsync(old));
        await AwaitAssertAsync(() =>
            Assert.Equal([2], Specs.Listener(coordinator, "g").Generations.Select(g => g.Generation)), Clients.Timeout);
        Assert.Equal("2:d", await RoundTrip(fresh, "d"));
    }

    [Fact]
    public async Task Reload_without_a_listener_must_reload_every_listener()
    {
        var coordinator = Start();
        await coordinator.Ask<CoordinatorProtocol.Reloaded>(new CoordinatorProtocol.Reload(null), Clients.Timeout);
        var reloaded = await coordinator.Ask<CoordinatorProtocol.Reloaded>(new CoordinatorProtocol.Reload(null), Clients.Timeout);
        Assert.Equal([new CoordinatorProtocol.ListenerGeneration("e", 3), new CoordinatorProtocol.ListenerGeneration("g", 3)], reloaded.Listeners);
        Assert.All(Specs.Status(coordinator).Listeners, l => Assert.Equal(3, l.Generation));
    }

    [Fact]
    public async Task Reloading_an_unknown_listener_must_be_refused_with_the_known_ones()
    {
        var coordinator = Start();
        var failed = await Assert.ThrowsAsync<CommandFailedException>(() => coordinator.Ask<CoordinatorProtocol.Reloaded>(new CoordinatorProtocol.Reload("nope"), Clients.Timeout));
        Assert.Equal("no listener named 'nope' (listeners: e, g)", failed.Reason);
    }

    [Fact]
    public async Task Fifty_reloads_under_open_connections_must_leave_only_the_generations_still_in_use()
    {
        var coordinator = Start();
        var endPoint = Specs.EndPoint(coordinator, "e");
        var held = new List<Socket>();
        for (var i = 0; i < 50; i++)
        {
            // Every other generation keeps one connection open; the others have none when the next reload comes.
            if (i % 2 == 0)
            {
                var client = await Clients.ConnectAsync(endPoint);
                await Clients.SendAsync(client, "x");
                await Clients.ReceiveExactlyAsync(client, 1);
                held.Add(client);
            }
            await coordinator.Ask<CoordinatorProtocol.Reloaded>(new CoordinatorProtocol.Reload("e"), Clients.Timeout);
        }

        var listener = Specs.Listener(coordinator, "e");
        Assert.Equal(51, listener.Generation);
        Assert.Equal(26, listener.Generations.Count); // the current one and the 25 that still hold a connection
        foreach (var client in held) client.Dispose();
        await AwaitAssertAsync(() => Assert.Equal([51], Specs.Listener(coordinator, "e").Generations.Select(g => g.Generation)), Clients.Timeout);
    }

    [Fact]
    public async Task Connections_of_a_reloaded_generation_must_get_the_drain_timeout_and_then_be_closed_gracefully()
    {
        var coordinator = Specs.StartCoordinator(Sys,
            Specs.Settings("g { endpoint = \"127.0.0.1:0\", handler = generation-echo, shards = 1, drain-timeout = 1s }"),
            HandlerCatalog.WithBuiltIns().Add(new GenerationEchoFactory()));
        var endPoint = Specs.EndPoint(coordinator, "g");
        using var old = await Clients.ConnectAsync(endPoint);
        Assert.Equal("1:a", await RoundTrip(old, "a"));

        var watch = System.Diagnostics.Stopwatch.StartNew();
        await coordinator.Ask<CoordinatorProtocol.Reloaded>(new CoordinatorProtocol.Reload("g"), Clients.Timeout);
        using var fresh = await Clients.ConnectAsync(endPoint);
        Assert.Equal("2:b", await RoundTrip(fresh, "b"));

        // The old connection still works within its drain timeout, then gets a FIN (not a reset).
        Assert.Equal("1:c", await RoundTrip(old, "c"));
        Assert.Equal("", await Clients.ReceiveToEndAsync(old));
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(900), $"closed after {watch.Elapsed}, before the drain timeout");
        await AwaitAssertAsync(() => Assert.Equal([2], Specs.Listener(coordinator, "g").Generations.Select(g => g.Generation)), Clients.Timeout);
        // The current generation's connection is untouched.
        Assert.Equal("2:d", await RoundTrip(fresh, "d"));
    }
}
