using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using ShardRuntime.Actors.Connections;
using ShardRuntime.Actors.Handlers;
using ShardRuntime.Actors.Tests.Support;
using ShardRuntime.Runtime.Connections;
using Xunit.Abstractions;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Tests.Connection;

/// <summary>Span handlers (http-ok, echo, user ones) served on the stream path (<c>io = stream</c>) answer as on the loop.</summary>
public sealed class SpanOverStreamSpecs : TestKit
{
    public SpanOverStreamSpecs(ITestOutputHelper output) : base(output: output)
    {
    }

    private IActorRef StartBoth(string handler, string extra = "", HandlerCatalog? catalog = null) =>
        Specs.StartCoordinator(Sys, Specs.Settings($$"""
            loop { endpoint = "127.0.0.1:0", handler = {{handler}}, shards = 1, io = loop {{extra}} }
            stream { endpoint = "127.0.0.1:0", handler = {{handler}}, shards = 1, io = stream {{extra}} }
            """), catalog);

    /// <summary>Sends <paramref name="request"/> in one go and reads until the server closes; the Date header masked.</summary>
    private static async Task<string> ExchangeAsync(IPEndPoint endPoint, string request)
    {
        using var client = await Clients.ConnectAsync(endPoint);
        await Clients.SendAsync(client, request);
        return Regex.Replace(await Clients.ReceiveToEndAsync(client), "Date: [^\r]*", "Date: (masked)");
    }

    [Fact]
    public async Task Http_ok_over_the_stream_path_must_answer_pipelined_keep_alive_requests_byte_for_byte_as_on_the_loop()
    {
        var coordinator = StartBoth("http-ok");
        Assert.Equal("span", Specs.Listener(coordinator, "loop").Style);
        Assert.Equal("span/stream", Specs.Listener(coordinator, "stream").Style);
        const string pipelined =
            "GET / HTTP/1.1\r\nHost: a\r\n\r\n" +
            "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello" +
            "GET /y HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n" +
            "GET /z HTTP/1.0\r\n\r\n";
        var loop = await ExchangeAsync(Specs.EndPoint(coordinator, "loop"), pipelined);
        var stream = await ExchangeAsync(Specs.EndPoint(coordinator, "stream"), pipelined);
        Assert.Equal(4, Regex.Matches(loop, "HTTP/1.1 200").Count);
        Assert.Equal(loop, stream);

        // Keep-alive: one request after another on the same connection.
        using var client = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "stream"));
        for (var i = 0; i < 3; i++)
            Assert.Equal("OK", (await Clients.HttpGetAsync(client)).Body);

        // A bad request: 400 and the close, the same on both.
        Assert.Equal(await ExchangeAsync(Specs.EndPoint(coordinator, "loop"), "GET / HTTP/1.1\nHost: a\n\n"),
            await ExchangeAsync(Specs.EndPoint(coordinator, "stream"), "GET / HTTP/1.1\nHost: a\n\n"));
    }

    [Fact]
    public async Task Echo_over_the_stream_path_must_echo_every_byte_as_on_the_loop()
    {
        var coordinator = StartBoth("echo");
        var payload = new byte[300_000];
        new Random(17).NextBytes(payload);
        using var loop = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "loop"));
        using var stream = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "stream"));
        Assert.Equal(payload, await Clients.EchoAsync(loop, payload));
        Assert.Equal(payload, await Clients.EchoAsync(stream, payload));
        stream.Shutdown(SocketShutdown.Send); // OnInputEnded: echo closes gracefully
        Assert.Equal("", await Clients.ReceiveToEndAsync(stream));
        await AwaitAssertAsync(() => Assert.Equal(0, Specs.Listener(coordinator, "stream").OpenConnections), Clients.Timeout);
    }

    [Fact]
    public async Task A_request_head_left_incomplete_must_get_http_oks_408_over_the_stream_path_as_on_the_loop()
    {
        var coordinator = StartBoth("http-ok", ", request-head-timeout = 1s");
        var loop = await ExchangeAsync(Specs.EndPoint(coordinator, "loop"), "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHo");
        var stream = await ExchangeAsync(Specs.EndPoint(coordinator, "stream"), "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHo");
        Assert.Contains("408", loop);
        Assert.Equal(loop, stream);
    }

    [Fact]
    public async Task A_reload_must_make_http_ok_over_the_stream_path_close_after_its_next_response()
    {
        var coordinator = StartBoth("http-ok");
        using var client = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "stream"));
        Assert.DoesNotContain("Connection: close", (await Clients.HttpGetAsync(client)).Head);
        await coordinator.Ask<CoordinatorProtocol.Reloaded>(new CoordinatorProtocol.Reload("stream"), Clients.Timeout);
        await AwaitAssertAsync(() => Assert.Equal(2, Specs.Listener(coordinator, "stream").Generations.Count), Clients.Timeout);
        // IsDraining reaches the handler once the connection heard of the reload (its Draining token, cancelled off the loop).
        await AwaitConditionAsync(async () =>
        {
            var reply = await Clients.HttpGetAsync(client);
            return reply.Head.Contains("Connection: close");
        }, Clients.Timeout);
        Assert.Equal("", await Clients.ReceiveToEndAsync(client));
    }

    [Fact]
    public async Task Messages_must_reach_OnMessage_one_callback_at_a_time()
    {
        var handler = new OverlapCheckingFactory();
        var coordinator = Specs.StartCoordinator(Sys,
            Specs.Settings("""m { endpoint = "127.0.0.1:0", handler = overlap, shards = 1, io = stream }"""),
            HandlerCatalog.WithBuiltIns().Add(handler));
        using var client = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "m"));
        var actor = await handler.Actor.Task.WaitAsync(Clients.Timeout);
        const int count = 200;
        var sending = Task.Run(async () =>
        {
            for (var i = 0; i < count; i++)
            {
                await Clients.SendAsync(client, "r");
                await Task.Delay(1); // pacing, not waiting for anything: receives spread over the messages' time
            }
        });
        for (var i = 0; i < count; i++) actor.Tell($"m{i}");
        await sending;
        // Each callback writes one byte: 'r' per received byte, 'm' per message.
        var replies = Encoding.ASCII.GetString(await Clients.ReceiveExactlyAsync(client, 2 * count));
        Assert.Equal(count, replies.Count(c => c == 'm'));
        Assert.Equal(count, replies.Count(c => c == 'r'));
        Assert.Equal(0, handler.Overlaps);
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"m{i}"), handler.Messages);
    }

    /// <summary>Counts callbacks that ran while another was running (must stay 0) and echoes one byte per callback.</summary>
    private sealed class OverlapCheckingFactory : IConnectionHandlerFactory
    {
        public readonly TaskCompletionSource<IActorRef> Actor = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public readonly ConcurrentQueue<string> Messages = new();
        public int Overlaps;
        private int _inside;

        public string Name => "overlap";

        public IConnectionHandler Create(IConnectionContext context) => new Handler(this);

        private sealed class Handler(OverlapCheckingFactory f) : IConnectionHandler
        {
            public void OnConnected(IConnectionContext context) =>
                f.Actor.TrySetResult(context.GetFeature<IConnectionActorFeature>()!.Self);

            public int OnReceived(IConnectionContext context, ReadOnlySpan<byte> data)
            {
                Enter();
                foreach (var _ in data) context.Write("r"u8);
                Leave();
                return data.Length;
            }

            public void OnMessage(IConnectionContext context, object message)
            {
                Enter();
                f.Messages.Enqueue((string)message);
                context.Write("m"u8);
                Leave();
            }

            private void Enter()
            {
                if (Interlocked.Increment(ref f._inside) != 1) Interlocked.Increment(ref f.Overlaps);
                Thread.Sleep(2); // widen the window an overlap would need (the callbacks run on the thread pool)
            }

            private void Leave() => Interlocked.Decrement(ref f._inside);
        }
    }
}
