using System.Text;
using Akka.TestKit.Xunit2;
using ShardRuntime.Actors.Handlers;
using ShardRuntime.Actors.Tests.Support;
using ShardRuntime.Runtime.Connections;
using Xunit.Abstractions;

namespace ShardRuntime.Actors.Tests.Connection;

/// <summary>
/// Shard n and its connections belong to I/O loop n modulo io-loops; with actors-on-io-loops their actors run on that
/// loop's thread (the one that waits for their sockets), without it on Akka's default dispatcher. On the stream path a
/// span handler resumes on its loop after a wait for its socket, an async handler on the thread pool.
/// </summary>
public sealed class IoLoopSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    [Fact]
    public async Task Each_shard_and_its_connections_must_run_on_their_own_loop_s_thread_in_the_first_turn_and_in_the_actor()
    {
        var coordinator = Specs.StartCoordinator(Sys,
            Specs.Settings("""w { endpoint = "127.0.0.1:0", handler = where, shards = 2 }""", "io-loops = 2, actors-on-io-loops = on"),
            HandlerCatalog.WithBuiltIns().Add(new WhereFactory()));
        var endPoint = Specs.EndPoint(coordinator, "w");

        await OnBothShardsAsync(endPoint, async client =>
        {
            // The first exchange is the shard's first turn; the second the connection actor's (it outlived the turn).
            var shard = -1;
            foreach (var turn in new[] { "first", "actor" })
            {
                await Clients.SendAsync(client, "?");
                (shard, var thread) = await ReadWhereAsync(client);
                Assert.True(thread == $"shardrt-io-{shard % 2}", $"{turn} turn of a shard-{shard} connection ran on '{thread}'");
            }
            return shard;
        });
    }

    [Fact]
    public async Task Without_actors_on_io_loops_the_actors_must_run_on_the_default_dispatcher()
    {
        var coordinator = Specs.StartCoordinator(Sys,
            Specs.Settings("""w { endpoint = "127.0.0.1:0", handler = where, shards = 1 }""", "actors-on-io-loops = off"),
            HandlerCatalog.WithBuiltIns().Add(new WhereFactory()));
        using var client = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "w"));
        for (var i = 0; i < 2; i++)
        {
            await Clients.SendAsync(client, "?");
            var (_, thread) = await ReadWhereAsync(client);
            Assert.False(thread.StartsWith("shardrt-io-", StringComparison.Ordinal), $"ran on I/O loop thread '{thread}'");
        }
    }

    [Fact]
    public async Task A_span_handler_on_the_stream_path_must_resume_on_its_shards_loop_after_waiting_for_input()
    {
        var coordinator = Specs.StartCoordinator(Sys,
            Specs.Settings("""w { endpoint = "127.0.0.1:0", handler = where, shards = 2, io = stream }""", "io-loops = 2"),
            HandlerCatalog.WithBuiltIns().Add(new WhereFactory()));
        await OnBothShardsAsync(Specs.EndPoint(coordinator, "w"), async client =>
        {
            var shard = await UntilOnItsLoopAsync(client);
            // From there on it stays on that loop: a read that finds its bytes goes on where it is, one that waits
            // resumes there.
            for (var request = 1; request <= 5; request++)
            {
                await Clients.SendAsync(client, "?");
                var (_, thread) = await ReadWhereAsync(client);
                Assert.True(thread == $"shardrt-io-{shard % 2}", $"request {request} of a shard-{shard} stream connection, after it reached its loop, ran on '{thread}'");
            }
            return shard;
        });
    }

    /// <summary>
    /// Connects and runs <paramref name="check"/> (which returns the connection's shard) until both shards have had a
    /// connection: the kernel spreads them (bounded). The connections stay open until the end, so each is a new one.
    /// </summary>
    private static async Task OnBothShardsAsync(System.Net.IPEndPoint endPoint, Func<System.Net.Sockets.Socket, Task<int>> check)
    {
        var seen = new HashSet<int>();
        var clients = new List<System.Net.Sockets.Socket>();
        try
        {
            for (var i = 0; i < 200 && seen.Count < 2; i++)
            {
                var client = await Clients.ConnectAsync(endPoint);
                clients.Add(client);
                seen.Add(await check(client));
            }
            Assert.Equal([0, 1], seen.Order());
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
        }
    }

    /// <summary>
    /// Requests until one is answered on the connection's loop, which happens at its first wait for input: the task
    /// starts on the thread pool, and reads there as long as each request is there before it reads (bounded).
    /// </summary>
    private static async Task<int> UntilOnItsLoopAsync(System.Net.Sockets.Socket client)
    {
        for (var request = 1; request <= 200; request++)
        {
            await Clients.SendAsync(client, "?");
            var (shard, thread) = await ReadWhereAsync(client);
            if (thread == $"shardrt-io-{shard % 2}") return shard;
            Assert.False(thread.StartsWith("shardrt-io-", StringComparison.Ordinal), $"a shard-{shard} connection ran on another shard's loop, '{thread}'");
        }
        Assert.Fail("200 requests of a span handler on the stream path, none answered on its shard's loop");
        return -1;
    }

    [Fact]
    public async Task An_async_handler_must_resume_on_the_thread_pool_never_on_a_loop_after_waiting_for_input()
    {
        var coordinator = Specs.StartCoordinator(Sys,
            Specs.Settings("""w { endpoint = "127.0.0.1:0", handler = where-async, shards = 2 }""", "io-loops = 2"),
            HandlerCatalog.WithBuiltIns().Add(new WhereAsyncFactory()));
        using var client = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "w"));
        for (var request = 1; request <= 3; request++)
        {
            await Clients.SendAsync(client, "?");
            var (_, thread) = await ReadWhereAsync(client);
            Assert.False(thread.StartsWith("shardrt-io-", StringComparison.Ordinal), $"request {request} of an async handler ran on I/O loop thread '{thread}'");
        }
    }

    private static async Task<(int Shard, string Thread)> ReadWhereAsync(System.Net.Sockets.Socket client)
    {
        var line = new StringBuilder();
        while (true)
        {
            var b = (char)(await Clients.ReceiveExactlyAsync(client, 1))[0];
            if (b == '\n') break;
            line.Append(b);
        }
        var parts = line.ToString().Split(':', 2);
        return (int.Parse(parts[0]), parts[1]);
    }

    /// <summary>The async style's "where": reads the socket's stream and answers each byte with "shard:thread-name\n".</summary>
    private sealed class WhereAsyncFactory : IStreamConnectionHandlerFactory
    {
        public string Name => "where-async";

        public IStreamConnectionHandler Create(IStreamConnection connection) => new Handler();

        private sealed class Handler : IStreamConnectionHandler
        {
            public async Task RunAsync(IStreamConnection connection)
            {
                var buffer = new byte[64];
                int n;
                while ((n = await connection.Stream.ReadAsync(buffer, connection.Aborted)) > 0)
                {
                    for (var i = 0; i < n; i++)
                        await connection.Stream.WriteAsync(Encoding.ASCII.GetBytes($"{connection.ShardId}:{Thread.CurrentThread.Name}\n"), connection.Aborted);
                }
            }
        }
    }
}
