using System.Net.Sockets;
using System.Text;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using ShardRuntime.Actors.Handlers;
using ShardRuntime.Actors.Tests.Support;
using ShardRuntime.Runtime.Connections;
using Xunit.Abstractions;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Tests.Connection;

/// <summary>
/// An async handler that takes its connection's socket (<see cref="ISocketHandOffFeature"/>, as ShardRuntime.AspNetCore
/// does for Kestrel): its I/O and idleness are its own, while the node still counts, drains and aborts the connection.
/// </summary>
public sealed class SocketHandOffSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    private IActorRef Start(string extra, IConnectionStreamLayer? layer = null)
    {
        var catalog = HandlerCatalog.WithBuiltIns().Add(new TakeSocketFactory());
        if (layer is not null) catalog.UseStreamLayers(_ => layer);
        return Specs.StartCoordinator(Sys,
            Specs.Settings($$"""s { endpoint = "127.0.0.1:0", handler = take-socket, shards = 1 {{extra}} }"""), catalog);
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

    [Fact]
    public async Task A_handler_that_took_the_socket_does_its_own_io_and_is_not_aborted_by_the_idle_timeout()
    {
        var coordinator = Start(", idle-timeout = 1s");
        using var client = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "s"));
        Assert.Equal("took it; again: refused", await LineAsync(client));
        await Clients.SendAsync(client, "one\n");
        Assert.Equal("one", await LineAsync(client));

        // Three idle timeouts with no byte either way: the node's sweep leaves a handed-over socket alone.
        await Task.Delay(TimeSpan.FromSeconds(3));
        await Clients.SendAsync(client, "two\n");
        Assert.Equal("two", await LineAsync(client));
        Assert.Equal(1, Specs.Listener(coordinator, "s").OpenConnections);
    }

    [Fact]
    public async Task A_reloads_drain_deadline_still_aborts_a_handed_over_connection_and_the_node_stops_counting_it()
    {
        var coordinator = Start(", drain-timeout = 1s");
        using var client = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "s"));
        Assert.Equal("took it; again: refused", await LineAsync(client));

        await coordinator.Ask<CoordinatorProtocol.Reloaded>(new CoordinatorProtocol.Reload("s"), Clients.Timeout);
        // The handler ignores Draining; the drain deadline closes the socket under it.
        try
        {
            Assert.Equal("", await Clients.ReceiveToEndAsync(client));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
        }
        await AwaitAssertAsync(() => Assert.Equal(0, Specs.Listener(coordinator, "s").OpenConnections), Clients.Timeout);
    }

    [Fact]
    public async Task Behind_a_stream_layer_there_is_no_socket_to_take()
    {
        var coordinator = Start("", new PlusOneLayer());
        using var client = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "s"));
        // The layer adds one to every byte it passes: the handler's "no socket\n" arrives shifted.
        var shifted = await Clients.ReceiveExactlyAsync(client, "no socket\n".Length);
        Assert.Equal("no socket\n", Encoding.ASCII.GetString(shifted.Select(b => (byte)(b - 1)).ToArray()));
    }

    /// <summary>Takes the socket, says so (and that a second take is refused), then echoes lines on it itself.</summary>
    private sealed class TakeSocketFactory : IStreamConnectionHandlerFactory, IStreamConnectionHandler
    {
        public string Name => "take-socket";
        public IStreamConnectionHandler Create(IStreamConnection connection) => this;

        public async Task RunAsync(IStreamConnection connection)
        {
            if (connection.GetFeature<ISocketHandOffFeature>() is not { } handOff)
            {
                await connection.Stream.WriteAsync("no socket\n"u8.ToArray());
                await connection.Stream.FlushAsync();
                await connection.Aborted.WhenCanceledAsync();
                return;
            }
            var socket = handOff.TakeSocket();
            string again;
            try
            {
                handOff.TakeSocket();
                again = "given twice";
            }
            catch (InvalidOperationException)
            {
                again = "refused";
            }
            await socket.SendAsync(Encoding.ASCII.GetBytes($"took it; again: {again}\n"));
            var buffer = new byte[256];
            try
            {
                int n;
                while ((n = await socket.ReceiveAsync(buffer)) > 0)
                    await socket.SendAsync(buffer.AsMemory(0, n));
                socket.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // the node closed it (the drain deadline)
            }
            finally
            {
                socket.Dispose();
            }
        }
    }
}

internal static class CancellationTokenWaits
{
    /// <summary>Completes when <paramref name="token"/> is cancelled.</summary>
    public static Task WhenCanceledAsync(this CancellationToken token)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        token.Register(() => done.TrySetResult());
        return done.Task;
    }
}
