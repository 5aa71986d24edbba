using System.Text;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using ShardRuntime.Actors.Connections;
using ShardRuntime.Actors.Handlers;
using ShardRuntime.Actors.Tests.Support;
using ShardRuntime.Runtime.Connections;
using Xunit.Abstractions;

namespace ShardRuntime.Actors.Tests.Connection;

/// <summary>
/// A connection's first turn runs in its shard (first-turn-in-shard): a connection gets an actor of its own only once
/// it outlives that turn, or when its handler asks for it; with the setting off every connection gets its actor at once.
/// </summary>
public sealed class FirstTurnSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    [Fact]
    public async Task A_connection_must_wait_for_its_first_bytes_without_an_actor_and_get_one_once_its_conversation_goes_on()
    {
        var coordinator = Specs.StartCoordinator(Sys,
            Specs.Settings("""h { endpoint = "127.0.0.1:0", handler = http-ok, shards = 1 }"""), HandlerCatalog.WithBuiltIns());
        var endPoint = Specs.EndPoint(coordinator, "h");

        // Accepted and open, but silent: it waits in the shard, and no connection actor exists.
        using var client = await Clients.ConnectAsync(endPoint);
        await AwaitAssertAsync(() => Assert.Equal(1, Specs.Listener(coordinator, "h").OpenConnections), Clients.Timeout);
        Assert.Null(await ConnectionActorAsync("h"));

        // Its first request is answered; a keep-alive connection outlives the turn and gets its actor.
        Assert.Equal("HTTP/1.1 200 OK", (await Clients.HttpGetAsync(client)).StatusLine);
        await AwaitAssertAsync(async () => Assert.NotNull(await ConnectionActorAsync("h")), Clients.Timeout);
        Assert.Equal("HTTP/1.1 200 OK", (await Clients.HttpGetAsync(client)).StatusLine);

        // A client that asks one question and the close is served and gone without an actor of its own.
        using var once = await Clients.ConnectAsync(endPoint);
        await Clients.SendAsync(once, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
        Assert.EndsWith("\r\n\r\nOK", await Clients.ReceiveToEndAsync(once));
        await AwaitAssertAsync(() => Assert.Equal(1, Specs.Listener(coordinator, "h").OpenConnections), Clients.Timeout);
        Assert.Equal(2, Specs.Listener(coordinator, "h").Accepted);
    }

    [Fact]
    public async Task With_first_turn_in_shard_off_every_connection_must_get_its_actor_at_once_and_be_served_by_it()
    {
        var coordinator = Specs.StartCoordinator(Sys, Specs.Settings("""
            h { endpoint = "127.0.0.1:0", handler = http-ok, shards = 1, first-turn-in-shard = off }
            e { endpoint = "127.0.0.1:0", handler = echo, shards = 1, first-turn-in-shard = off }
            """), HandlerCatalog.WithBuiltIns());

        using var http = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "h"));
        await AwaitAssertAsync(async () => Assert.NotNull(await ConnectionActorAsync("h")), Clients.Timeout);
        Assert.Equal("HTTP/1.1 200 OK", (await Clients.HttpGetAsync(http)).StatusLine);
        Assert.Equal("HTTP/1.1 200 OK", (await Clients.HttpGetAsync(http)).StatusLine);

        using var echo = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "e"));
        await Clients.SendAsync(echo, "ping");
        Assert.Equal("ping"u8.ToArray(), await Clients.ReceiveExactlyAsync(echo, 4));
        await AwaitAssertAsync(async () => Assert.NotNull(await ConnectionActorAsync("e")), Clients.Timeout);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_handler_that_asks_for_its_actor_when_connected_must_get_it_and_receive_its_messages_after_that_call_in_order(bool firstTurnInShard)
    {
        var coordinator = Specs.StartCoordinator(Sys,
            Specs.Settings($$"""a { endpoint = "127.0.0.1:0", handler = actor-greeter, shards = 1, first-turn-in-shard = {{(firstTurnInShard ? "on" : "off")}} }"""),
            HandlerCatalog.WithBuiltIns().Add(new ActorGreeterFactory()));
        using var client = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "a"));

        // OnConnected wrote "hello" and told its own actor 1, 2 and 3, which OnMessage writes: after OnConnected's
        // own bytes, in the order told.
        const string expected = "hello conn-|1|2|3|";
        var greeting = Encoding.ASCII.GetString(await Clients.ReceiveExactlyAsync(client, expected.Length));
        Assert.Equal(expected, greeting);
        Assert.NotNull(await ConnectionActorAsync("a"));

        // And the connection goes on as usual.
        await Clients.SendAsync(client, "ping");
        Assert.Equal("ping"u8.ToArray(), await Clients.ReceiveExactlyAsync(client, 4));
    }

    [Fact]
    public async Task A_greeting_larger_than_the_send_buffer_must_reach_a_client_that_says_nothing()
    {
        // Written in OnConnected, in the shard's turn: the kernel takes part of it; the rest must go out without the
        // client sending anything (the connection must not wait in the shard for input while it has bytes to send).
        const int size = 8 * 1024 * 1024;
        var coordinator = Specs.StartCoordinator(Sys,
            Specs.Settings("""g { endpoint = "127.0.0.1:0", handler = big-greeter, shards = 1, max-pending-write-bytes = 16 MiB }"""),
            HandlerCatalog.WithBuiltIns().Add(new BigGreeterFactory(size)));
        using var client = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "g"));
        var greeting = await Clients.ReceiveExactlyAsync(client, size);
        Assert.All(greeting, b => Assert.Equal((byte)'g', b));
    }

    /// <summary>The listener's (only) shard's connection actor, or null when it has none (an Identify answered by nobody).</summary>
    private async Task<IActorRef?> ConnectionActorAsync(string listener)
    {
        var shard = await Specs.ShardAsync(Sys, listener, 0);
        var identity = await Sys.ActorSelection(shard.Path.ToStringWithoutAddress() + "/conn-*").Ask<ActorIdentity>(new Identify(listener), Clients.Timeout);
        return identity.Subject;
    }

    /// <summary>Writes a greeting of the given size in OnConnected; echoes what it receives.</summary>
    private sealed class BigGreeterFactory(int size) : IConnectionHandlerFactory
    {
        private readonly byte[] _greeting = Enumerable.Repeat((byte)'g', size).ToArray();

        public string Name => "big-greeter";

        public IConnectionHandler Create(IConnectionContext context) => new Handler(_greeting);

        private sealed class Handler(byte[] greeting) : IConnectionHandler
        {
            public void OnConnected(IConnectionContext context) => context.Write(greeting);

            public int OnReceived(IConnectionContext context, ReadOnlySpan<byte> data)
            {
                context.Write(data);
                return data.Length;
            }
        }
    }

    /// <summary>
    /// Asks for its connection's actor in OnConnected, writes "hello " and the actor's name, and tells the actor three
    /// messages, which OnMessage writes; echoes what it receives.
    /// </summary>
    private sealed class ActorGreeterFactory : IConnectionHandlerFactory
    {
        public string Name => "actor-greeter";

        public IConnectionHandler Create(IConnectionContext context) => new Handler();

        private sealed class Handler : IConnectionHandler
        {
            public void OnConnected(IConnectionContext context)
            {
                var actor = context.GetFeature<IConnectionActorFeature>()!;
                var self = actor.Self;
                context.Write(Encoding.ASCII.GetBytes("hello " + self.Path.Name[..5] + "|"));
                for (var i = 1; i <= 3; i++) self.Tell(i);
            }

            public void OnMessage(IConnectionContext context, object message) =>
                context.Write(Encoding.ASCII.GetBytes($"{message}|"));

            public int OnReceived(IConnectionContext context, ReadOnlySpan<byte> data)
            {
                context.Write(data);
                return data.Length;
            }
        }
    }
}
