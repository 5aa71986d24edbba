using System.Text;
using Akka.TestKit.Xunit2;
using ShardRuntime.Actors.Handlers;
using ShardRuntime.Actors.Tests.Support;
using ShardRuntime.Runtime.Connections;
using Xunit.Abstractions;

namespace ShardRuntime.Actors.Tests.Connection;

/// <summary>
/// Shard n and its connections belong to I/O loop n modulo io-loops; with actors-on-io-loops their actors run on that
/// loop's thread (the one that waits for their sockets), without it on Akka's default dispatcher.
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

        // Connections until both shards have had some (the kernel spreads them; bounded).
        var seen = new HashSet<int>();
        var clients = new List<System.Net.Sockets.Socket>();
        try
        {
            for (var i = 0; i < 200 && seen.Count < 2; i++)
            {
                var client = await Clients.ConnectAsync(endPoint);
                clients.Add(client);
                // The first exchange is the shard's first turn; the second the connection actor's (it outlived the turn).
                foreach (var turn in new[] { "first", "actor" })
                {
                    await Clients.SendAsync(client, "?");
                    var (shard, thread) = await ReadWhereAsync(client);
                    Assert.True(thread == $"shardrt-io-{shard % 2}", $"{turn} turn of a shard-{shard} connection ran on '{thread}'");
                    seen.Add(shard);
                }
            }
            Assert.Equal([0, 1], seen.Order());
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
        }
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

    /// <summary>Answers every byte with "shard:thread-name\n": where the handler ran.</summary>
    private sealed class WhereFactory : IConnectionHandlerFactory
    {
        public string Name => "where";

        public IConnectionHandler Create(IConnectionContext context) => new Handler();

        private sealed class Handler : IConnectionHandler
        {
            public int OnReceived(IConnectionContext context, ReadOnlySpan<byte> data)
            {
                for (var i = 0; i < data.Length; i++)
                    context.Write(Encoding.ASCII.GetBytes($"{context.ShardId}:{Thread.CurrentThread.Name}\n"));
                return data.Length;
            }
        }
    }
}
