using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using ShardRuntime.Actors.Handlers;
using ShardRuntime.Actors.Listeners;
using ShardRuntime.Actors.Tests.Support;
using ShardRuntime.Runtime.Handlers;
using Xunit.Abstractions;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Tests.Connection;

/// <summary>The async handler style on real loopback sockets: the stream path's guarantees.</summary>
public sealed class StreamConnectionSpecs : TestKit
{
    public StreamConnectionSpecs(ITestOutputHelper output) : base(output: output)
    {
    }

    private (IActorRef Coordinator, ScriptedStreamFactory Handler) Start(string extra = "", PlusOneLayer? layer = null)
    {
        var scripted = new ScriptedStreamFactory();
        var catalog = HandlerCatalog.WithBuiltIns().Add(scripted);
        if (layer is not null) catalog.UseStreamLayers(_ => layer);
        var coordinator = Specs.StartCoordinator(Sys,
            Specs.Settings($$"""s { endpoint = "127.0.0.1:0", handler = scripted, shards = 1 {{extra}} }"""), catalog);
        return (coordinator, scripted);
    }

    private static async Task<string> LineAsync(Socket socket)
    {
        var line = new StringBuilder();
        while (true)
        {
            var b = (await Clients.ReceiveExactlyAsync(socket, 1))[0];
            if (b == '\n') return line.ToString();
            line.Append((char)b);
        }
    }

    /// <summary>The server ends the connection (a FIN or a reset) without sending anything more.</summary>
    private static async Task EndsWithoutReplyAsync(Socket socket)
    {
        try
        {
            Assert.Equal("", await Clients.ReceiveToEndAsync(socket));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
        }
    }

    [Fact]
    public async Task Echo_async_must_echo_over_the_stream_path_and_show_its_style()
    {
        var coordinator = Specs.StartCoordinator(Sys,
            Specs.Settings("""e { endpoint = "127.0.0.1:0", handler = echo-async, shards = 1 }"""));
        using var client = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "e"));
        var payload = Encoding.ASCII.GetBytes(new string('a', 200_000));
        Assert.Equal(payload, await Clients.EchoAsync(client, payload));
        var listener = Specs.Listener(coordinator, "e");
        Assert.Equal("async", listener.Style);
        Assert.Equal(1, listener.OpenConnections);
        Assert.Equal(1, listener.Generations.Single().OpenConnections);
        client.Shutdown(SocketShutdown.Send);
        Assert.Equal("", await Clients.ReceiveToEndAsync(client)); // the handler returned at the FIN: a graceful close
        await AwaitAssertAsync(() => Assert.Equal(0, Specs.Listener(coordinator, "e").OpenConnections), Clients.Timeout);
    }

    [Fact]
    public async Task Stream_connections_must_count_against_max_connections()
    {
        var coordinator = Specs.StartCoordinator(Sys,
            Specs.Settings("""e { endpoint = "127.0.0.1:0", handler = echo-async, shards = 2, max-connections = 1 }"""));
        var endPoint = Specs.EndPoint(coordinator, "e");
        using var first = await Clients.ConnectAsync(endPoint);
        Assert.Equal("1"u8.ToArray(), await Clients.EchoAsync(first, "1"u8.ToArray()));
        using var second = await Clients.ConnectAsync(endPoint); // the kernel completes the handshake; it waits in the backlog
        await Clients.SendAsync(second, "2");
        var answer = Clients.ReceiveExactlyAsync(second, 1);
        Assert.Equal(1, Specs.Listener(coordinator, "e").OpenConnections);
        Assert.False(answer.IsCompleted, "the second connection was served while the first held the only slot");

        first.Shutdown(SocketShutdown.Send); // echo-async returns at the FIN: the slot frees and the second is served
        Assert.Equal("", await Clients.ReceiveToEndAsync(first));
        Assert.Equal("2"u8.ToArray(), await answer);
    }

    [Fact]
    public async Task A_client_that_stops_reading_must_make_the_handlers_flush_wait()
    {
        var (coordinator, handler) = Start();
        using var client = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "s"));
        client.ReceiveBufferSize = 64 * 1024;
        await Clients.SendAsync(client, "flood\n");

        // The client reads nothing: the bytes the handler's flushes let through must stop growing (the kernel's buffers are full).
        var watch = Stopwatch.StartNew();
        long last = -1, stableSince = 0;
        while (watch.Elapsed < Clients.Timeout)
        {
            await Task.Delay(100);
            var now = Interlocked.Read(ref handler.Flushed);
            if (now != last) (last, stableSince) = (now, watch.ElapsedMilliseconds);
            else if (watch.ElapsedMilliseconds - stableSince >= 1500) break;
        }
        Assert.True(last > 0, "the handler never wrote");
        Assert.True(watch.ElapsedMilliseconds - stableSince >= 1500, $"flushed bytes kept growing: {last}");
        Assert.True(last < 32 * 1024 * 1024, $"{last} bytes went out to a client that reads nothing: not bounded");

        // Once the client reads, the writer goes on.
        var drained = 0L;
        var buffer = new byte[256 * 1024];
        using var cts = new CancellationTokenSource(Clients.Timeout);
        while (drained <= last + 1024 * 1024)
            drained += await client.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
        Assert.True(Interlocked.Read(ref handler.Flushed) > last);
    }

    [Fact]
    public async Task An_idle_stream_connection_must_be_aborted_after_the_idle_timeout()
    {
        var (coordinator, handler) = Start(", idle-timeout = 1s");
        using var client = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "s"));
        await Clients.SendAsync(client, "hello\n");
        Assert.Equal("hello", await LineAsync(client));
        var watch = Stopwatch.StartNew();
        var after = await handler.AbortedAfter.Task.WaitAsync(Clients.Timeout);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(900), $"aborted {watch.Elapsed} after the last byte: before the idle timeout");
        await EndsWithoutReplyAsync(client);
        await AwaitAssertAsync(() => Assert.Equal(0, Specs.Listener(coordinator, "s").OpenConnections), Clients.Timeout);
        Assert.True(after > TimeSpan.Zero);
    }

    [Fact]
    public async Task A_reload_must_cancel_Draining_and_its_drain_deadline_must_abort()
    {
        var (coordinator, handler) = Start(", drain-timeout = 1s");
        using var client = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "s"));
        await Clients.SendAsync(client, "ping\n");
        Assert.Equal("ping", await LineAsync(client));
        await Clients.SendAsync(client, "wait\n"); // the handler ignores Draining and waits for Aborted
        await AwaitConditionAsync(() => Task.FromResult(handler.Events.Contains("wait")), Clients.Timeout);

        await coordinator.Ask<CoordinatorProtocol.Reloaded>(new CoordinatorProtocol.Reload("s"), Clients.Timeout);
        var watch = Stopwatch.StartNew();
        await handler.DrainingSeen.Task.WaitAsync(Clients.Timeout);
        Assert.Equal(2, Specs.Listener(coordinator, "s").Generations.Count); // the old generation counts its connection
        await handler.AbortedAfter.Task.WaitAsync(Clients.Timeout);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(800), $"aborted {watch.Elapsed} after the reload: before the drain deadline");
        await AwaitAssertAsync(() =>
        {
            var listener = Specs.Listener(coordinator, "s");
            Assert.Equal(0, listener.OpenConnections);
            Assert.Single(listener.Generations); // the retired generation unloaded with its last connection
        }, Clients.Timeout);
    }

    [Fact]
    public async Task Letting_go_must_drain_stream_connections_the_same_way()
    {
        var (coordinator, handler) = Start();
        using var client = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "s"));
        await Clients.SendAsync(client, "wait\n");
        await AwaitConditionAsync(() => Task.FromResult(handler.Events.Contains("wait")), Clients.Timeout);
        var shard = await Sys.ActorSelection("/user/shard-runtime/*/listener-s-*").ResolveOne(Clients.Timeout);

        shard.Tell(new ShardRuntime.Actors.Listeners.Listener.Retire(RetireMode.LetGo, TimeSpan.FromSeconds(1)));
        var watch = Stopwatch.StartNew();
        await handler.DrainingSeen.Task.WaitAsync(Clients.Timeout);
        await handler.AbortedAfter.Task.WaitAsync(Clients.Timeout);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(800), $"aborted {watch.Elapsed} after letting go: before the drain deadline");
        await AwaitAssertAsync(() => Assert.Equal(0, Specs.Listener(coordinator, "s").OpenConnections), Clients.Timeout);
    }

    [Fact]
    public async Task A_handler_exception_must_close_only_its_connection_and_be_logged_and_counted()
    {
        var (coordinator, _) = Start();
        var endPoint = Specs.EndPoint(coordinator, "s");
        using var victim = await Clients.ConnectAsync(endPoint);
        using var bystander = await Clients.ConnectAsync(endPoint);
        await Clients.SendAsync(bystander, "hello\n");
        Assert.Equal("hello", await LineAsync(bystander));

        await EventFilter.Warning(contains: "boom requested by the test").ExpectOneAsync(async () =>
        {
            await Clients.SendAsync(victim, "boom\n");
            await EndsWithoutReplyAsync(victim);
        });
        await Clients.SendAsync(bystander, "still fine\n");
        Assert.Equal("still fine", await LineAsync(bystander));
        await AwaitAssertAsync(() =>
        {
            var listener = Specs.Listener(coordinator, "s");
            Assert.Equal(1, listener.OpenConnections);
            Assert.Equal(1, listener.HandlerFailures);
        }, Clients.Timeout);
    }

    [Fact]
    public async Task A_handler_that_returns_must_close_gracefully_after_flushing()
    {
        var (coordinator, _) = Start();
        using var client = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "s"));
        await Clients.SendAsync(client, "bye\n"); // the handler writes "bye" without flushing and returns
        Assert.Equal("bye", await Clients.ReceiveToEndAsync(client)); // all of it, then a FIN (a reset would throw)
        await AwaitAssertAsync(() => Assert.Equal(0, Specs.Listener(coordinator, "s").OpenConnections), Clients.Timeout);
    }

    [Fact]
    public async Task A_message_told_to_the_connections_actor_must_reach_the_handler()
    {
        var (coordinator, handler) = Start();
        using var client = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "s"));
        await Clients.SendAsync(client, "actor\n");
        var actor = await handler.ActorOfConnection.Task.WaitAsync(Clients.Timeout);
        Assert.Equal("conn-", actor.Path.Name[..5]);
        actor.Tell("first");
        actor.Tell("last");
        Assert.Equal("first", await LineAsync(client));
        Assert.Equal("last", await LineAsync(client));
        Assert.Equal("", await Clients.ReceiveToEndAsync(client));
    }

    [Fact]
    public async Task A_stream_layer_must_sit_between_the_socket_and_the_handler_for_either_style()
    {
        var layer = new PlusOneLayer();
        var (coordinator, _) = Start(layer: layer);
        using var client = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "s"));
        await Clients.SendAsync(client, "abc\n");
        Assert.Equal("bcd\v"u8.ToArray(), await Clients.ReceiveExactlyAsync(client, 4)); // '\n' + 1 is '\v'
        Assert.Equal(1, layer.Wrapped);

        // A span handler (echo) on a listener with a layer takes the stream path too, whatever its io says.
        var spanLayer = new PlusOneLayer();
        var spanCoordinator = Specs.StartCoordinator(Sys,
            Specs.Settings("""e { endpoint = "127.0.0.1:0", handler = echo, shards = 1, io = loop }"""),
            HandlerCatalog.WithBuiltIns().UseStreamLayers(_ => spanLayer), name: "span-layer");
        using var span = await Clients.ConnectAsync(Specs.EndPoint(spanCoordinator, "e"));
        await Clients.SendAsync(span, "xyz");
        Assert.Equal("yz{"u8.ToArray(), await Clients.ReceiveExactlyAsync(span, 3));
        Assert.Equal("span/stream", Specs.Listener(spanCoordinator, "e").Style);
    }
    [Fact]
    public async Task A_zero_byte_read_must_wait_for_input_without_taking_it()
    {
        var coordinator = Specs.StartCoordinator(Sys,
            Specs.Settings("""z { endpoint = "127.0.0.1:0", handler = zero-byte, shards = 1 }"""),
            HandlerCatalog.WithBuiltIns().Add(new ZeroByteReadFactory()));
        using var client = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "z"));
        Assert.Equal("ready", await LineAsync(client)); // the handler's zero-byte read begins after this
        // Not synchronisation: a zero-byte read that did not wait would return while nothing was there, and the read
        // after it would still be waiting when the bytes came (reported as "pending").
        await Task.Delay(TimeSpan.FromMilliseconds(200));
        await Clients.SendAsync(client, "hello");
        Assert.Equal("0 then 5 at once: hello", await LineAsync(client));
        client.Shutdown(SocketShutdown.Send);
        Assert.Equal("0 at the FIN", await LineAsync(client)); // at the FIN a zero-byte read returns too
    }

    /// <summary>Writes "ready", reads zero bytes, then says what that read returned and whether the next one had its bytes at once.</summary>
    private sealed class ZeroByteReadFactory : Runtime.Connections.IStreamConnectionHandlerFactory
    {
        public string Name => "zero-byte";

        public Runtime.Connections.IStreamConnectionHandler Create(Runtime.Connections.IStreamConnection connection) => new Handler();

        private sealed class Handler : Runtime.Connections.IStreamConnectionHandler
        {
            public async Task RunAsync(Runtime.Connections.IStreamConnection connection)
            {
                var stream = connection.Stream;
                await stream.WriteAsync("ready\n"u8.ToArray(), connection.Aborted);
                var zero = await stream.ReadAsync(Memory<byte>.Empty, connection.Aborted);
                var buffer = new byte[64];
                var next = stream.ReadAsync(buffer, connection.Aborted);
                var when = next.IsCompleted ? "at once" : "pending";
                var n = await next;
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"{zero} then {n} {when}: {Encoding.ASCII.GetString(buffer, 0, n)}\n"), connection.Aborted);
                zero = await stream.ReadAsync(Memory<byte>.Empty, connection.Aborted);
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"{zero} at the FIN\n"), connection.Aborted);
            }
        }
    }
}
