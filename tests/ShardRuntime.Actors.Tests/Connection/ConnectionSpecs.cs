using System.Diagnostics;
using Akka.Actor;
using System.Net.Sockets;
using System.Text;
using Akka.TestKit.Xunit2;
using ShardRuntime.Actors.Handlers;
using ShardRuntime.Actors.Tests.Support;
using ShardRuntime.Runtime.Connections;
using Xunit.Abstractions;

namespace ShardRuntime.Actors.Tests.Connection;

public sealed class ConnectionSpecs : TestKit
{
    private readonly ITestOutputHelper _output;

    public ConnectionSpecs(ITestOutputHelper output) : base(output: output) => _output = output;

    [Fact]
    public async Task A_handler_exception_must_close_only_its_own_connection()
    {
        var handlers = HandlerCatalog.WithBuiltIns().Add(new ThrowingEchoFactory());
        var coordinator = Specs.StartCoordinator(Sys,
            Specs.Settings("""t { endpoint = "127.0.0.1:0", handler = throwing-echo, shards = 2 }"""), handlers);
        var endPoint = Specs.EndPoint(coordinator, "t");
        using var victim = await Clients.ConnectAsync(endPoint);
        using var bystander = await Clients.ConnectAsync(endPoint);
        await Clients.SendAsync(bystander, "hello");
        Assert.Equal("hello"u8.ToArray(), await Clients.ReceiveExactlyAsync(bystander, 5));

        await Clients.SendAsync(victim, "boom");
        // The victim's connection is aborted (reset) or closed: either way it ends without an echo.
        try
        {
            Assert.Equal("", await Clients.ReceiveToEndAsync(victim));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
        }

        await Clients.SendAsync(bystander, "still fine");
        Assert.Equal("still fine"u8.ToArray(), await Clients.ReceiveExactlyAsync(bystander, 10));
        await AwaitAssertAsync(() => Assert.Equal(1, Specs.Listener(coordinator, "t").OpenConnections), Clients.Timeout);
        // And the listener still accepts.
        using var next = await Clients.ConnectAsync(endPoint);
        await Clients.SendAsync(next, "next");
        Assert.Equal("next"u8.ToArray(), await Clients.ReceiveExactlyAsync(next, 4));
    }

    [Fact]
    public async Task An_idle_connection_must_be_closed_after_the_idle_timeout_and_an_active_one_kept()
    {
        var recording = new RecordingEchoFactory();
        var coordinator = Specs.StartCoordinator(Sys,
            Specs.Settings("""e { endpoint = "127.0.0.1:0", handler = recording-echo, shards = 1, idle-timeout = 3s }"""),
            HandlerCatalog.WithBuiltIns().Add(recording));
        var endPoint = Specs.EndPoint(coordinator, "e");

        var watch = Stopwatch.StartNew(); // before connecting: the server's idle clock starts after our connect
        using var idle = await Clients.ConnectAsync(endPoint);
        using var active = await Clients.ConnectAsync(endPoint);
        var idleClosed = Clients.ReceiveToEndAsync(idle);

        // Keep the active one busy for longer than the idle timeout.
        while (!idleClosed.IsCompleted && watch.Elapsed < Clients.Timeout)
        {
            await Clients.SendAsync(active, "k");
            Assert.Equal("k"u8.ToArray(), await Clients.ReceiveExactlyAsync(active, 1));
            await Task.WhenAny(idleClosed, Task.Delay(100));
        }

        Assert.Equal("", await idleClosed); // a graceful close (FIN), not a reset
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(2900), $"closed after {watch.Elapsed}, before the idle timeout");
        await Clients.SendAsync(active, "alive");
        Assert.Equal("alive"u8.ToArray(), await Clients.ReceiveExactlyAsync(active, 5));
        await AwaitAssertAsync(() => Assert.Contains(ConnectionCloseReason.IdleTimeout, recording.Closed), Clients.Timeout);
    }

    [Fact]
    public async Task A_graceful_close_whose_peer_never_sends_its_FIN_must_end_after_the_linger_timeout()
    {
        var handler = new CloseOnNthReadFactory(1);
        var coordinator = Specs.StartCoordinator(Sys,
            Specs.Settings("""c { endpoint = "127.0.0.1:0", handler = close-on-nth, shards = 1, linger-timeout = 1500ms }"""),
            HandlerCatalog.WithBuiltIns().Add(handler));
        using var client = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "c"));

        // The handler answers and closes; the server shuts down its side and lingers for our FIN, which never comes.
        await Clients.SendAsync(client, "x");
        Assert.Equal("bye", await Clients.ReceiveToEndAsync(client));
        var watch = Stopwatch.StartNew();
        await AwaitAssertAsync(() => Assert.Equal(0, Specs.Listener(coordinator, "c").OpenConnections), Clients.Timeout,
            TimeSpan.FromMilliseconds(20));

        // Closed by the shard's sweep once the linger time passed (it looks every quarter of it), not before.
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(1300), $"closed after {watch.Elapsed}, before linger-timeout 1.5 s");
        Assert.Equal([ConnectionCloseReason.Closed], handler.Closed.ToArray());
    }

    [Fact]
    public async Task An_HTTP_request_that_asks_for_the_close_must_be_answered_and_closed_without_waiting_for_the_client_s_FIN()
    {
        var coordinator = Specs.StartCoordinator(Sys,
            Specs.Settings("""h { endpoint = "127.0.0.1:0", handler = http-ok, shards = 1, linger-timeout = 60s }"""),
            HandlerCatalog.WithBuiltIns());
        using var http10 = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "h"));
        using var close = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "h"));

        // Neither client closes its side; the server does not wait 60 s for them: the connections end at once, cleanly.
        await Clients.SendAsync(http10, "GET / HTTP/1.0\r\n\r\n");
        await Clients.SendAsync(close, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
        Assert.EndsWith("\r\n\r\nOK", await Clients.ReceiveToEndAsync(http10)); // a FIN, not a reset
        Assert.EndsWith("\r\n\r\nOK", await Clients.ReceiveToEndAsync(close));
        await AwaitAssertAsync(() => Assert.Equal(0, Specs.Listener(coordinator, "h").OpenConnections), TimeSpan.FromSeconds(20),
            TimeSpan.FromMilliseconds(20));
    }

    [Fact]
    public async Task Concurrent_keep_alive_clients_sending_request_after_response_must_never_wait_for_a_wake_up()
    {
        // Each request is sent the moment the previous response arrived, on 4 connections at once: the pattern that lost
        // wake-ups when a short read was taken for a drained socket (a request then waited for the idle timeout).
        const int Connections = 4, Requests = 20_000;
        var coordinator = Specs.StartCoordinator(Sys,
            Specs.Settings("""h { endpoint = "127.0.0.1:0", handler = http-ok, shards = 2 }"""), HandlerCatalog.WithBuiltIns());
        var endPoint = Specs.EndPoint(coordinator, "h");
        var request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray();

        async Task RunAsync(int client)
        {
            using var socket = await Clients.ConnectAsync(endPoint);
            var buffer = new byte[4096];
            for (var i = 0; i < Requests; i++)
            {
                await socket.SendAsync(request);
                var received = 0;
                while (received < 4 || !buffer.AsSpan(0, received).EndsWith("\r\n\r\nOK"u8))
                {
                    using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    int n;
                    try
                    {
                        n = await socket.ReceiveAsync(buffer.AsMemory(received), wait.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        throw new Xunit.Sdk.XunitException($"client {client}: no response to request {i} within 10 s");
                    }
                    Assert.True(n > 0, $"client {client}: closed at request {i}");
                    received += n;
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Connections).Select(RunAsync)).WaitAsync(TimeSpan.FromMinutes(5));
    }

    [Fact]
    public async Task A_slow_reader_must_make_the_connection_stop_reading_and_keep_memory_bounded()
    {
        // The client sends without reading what is echoed back.
        var coordinator = Specs.StartCoordinator(Sys,
            Specs.Settings("""e { endpoint = "127.0.0.1:0", handler = echo, shards = 1, max-pending-write-bytes = 256 KiB }"""));
        using var client = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "e"));
        client.Blocking = false;

        // Send until the server stops reading and our send stalls for good (bounded by count and time).
        const long limit = 512L * 1024 * 1024;
        var chunk = new byte[64 * 1024];
        var sent = 0L;
        var deadline = Stopwatch.StartNew();
        var stalledSince = Stopwatch.StartNew();
        while (sent < limit && deadline.Elapsed < TimeSpan.FromSeconds(90) && stalledSince.Elapsed < TimeSpan.FromSeconds(3))
        {
            if (!client.Poll(100_000, SelectMode.SelectWrite)) continue;
            var n = client.Send(chunk, 0, chunk.Length, SocketFlags.None, out var error);
            if (error == SocketError.Success && n > 0)
            {
                sent += n;
                stalledSince.Restart();
            }
        }

        // What the process holds for the connection: bytes it read and has not sent back yet (the echo's write queue).
        // (Measured by the shard's counters, not by the process's heap, which the specs running beside this one move.)
        var shard = Specs.Listener(coordinator, "e").Shards.Single();
        var held = shard.BytesReceived - shard.BytesSent;
        _output.WriteLine($"{sent / 1024} KiB sent before the stall; the server read {shard.BytesReceived / 1024} KiB and holds {held / 1024} KiB");

        // Without backpressure the server would have read (and queued) everything; with it, it stops at the bound
        // (max-pending-write-bytes, plus the one receive that crossed it) and the rest waits in the kernel's socket buffers.
        Assert.True(sent < limit, "the server kept reading: no backpressure");
        Assert.True(held <= 256 * 1024 + 64 * 1024, $"the server holds {held} bytes of a connection whose reader stalled");

        // Now read: every byte comes back, in order.
        client.Blocking = true;
        var received = 0L;
        var buffer = new byte[256 * 1024];
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        while (received < sent)
        {
            var n = await client.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            Assert.NotEqual(0, n);
            received += n;
        }
        Assert.Equal(sent, received);
    }

    [Fact]
    public async Task A_half_closed_echo_connection_must_get_every_byte_back_and_then_a_FIN()
    {
        var coordinator = Specs.StartCoordinator(Sys, Specs.Settings("""e { endpoint = "127.0.0.1:0", handler = echo, shards = 1 }"""));
        using var client = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "e"));
        var payload = string.Concat(Enumerable.Repeat("0123456789abcdef", 64 * 1024)); // 1 MiB
        var sending = Task.Run(async () =>
        {
            await Clients.SendAsync(client, payload);
            client.Shutdown(SocketShutdown.Send);
        });
        var echoed = await Clients.ReceiveToEndAsync(client, TimeSpan.FromMinutes(1));
        await sending;
        Assert.Equal(payload.Length, echoed.Length);
        Assert.Equal(payload, echoed);
        var shard = Specs.Listener(coordinator, "e").Shards.Single();
        Assert.Equal(payload.Length, shard.BytesReceived);
        Assert.Equal(payload.Length, shard.BytesSent);
    }

    [Fact]
    public async Task At_max_connections_shards_must_stop_accepting_and_resume_below_it()
    {
        var coordinator = Specs.StartCoordinator(Sys,
            Specs.Settings("""e { endpoint = "127.0.0.1:0", handler = echo, shards = 2, max-connections = 5 }"""));
        var endPoint = Specs.EndPoint(coordinator, "e");

        var clients = new List<Socket>();
        for (var i = 0; i < 8; i++)
        {
            var c = await Clients.ConnectAsync(endPoint); // the kernel completes the handshake into the backlog
            await Clients.SendAsync(c, "?");
            clients.Add(c);
        }

        // Exactly five are served.
        await AwaitAssertAsync(() =>
        {
            var listener = Specs.Listener(coordinator, "e");
            Assert.Equal(5, listener.OpenConnections);
            Assert.Equal(5, listener.Accepted);
        }, Clients.Timeout);
        // Which five: wait (bounded) until five have their echo; the other three get nothing.
        var served = new List<Socket>();
        var deadline = Stopwatch.StartNew();
        while (served.Count < 5 && deadline.Elapsed < Clients.Timeout)
        {
            var readable = clients.Except(served).ToList();
            Socket.Select(readable, null, null, 100_000);
            served.AddRange(readable);
        }
        Assert.Equal(5, served.Count);
        var waiting = clients.Except(served).ToList();
        Assert.Equal(5, Specs.Listener(coordinator, "e").Accepted);

        // Closing three of the served ones lets the three waiting ones in.
        foreach (var c in served.Take(3)) c.Dispose();
        foreach (var c in waiting)
            Assert.Equal("?"u8.ToArray(), await Clients.ReceiveExactlyAsync(c, 1));
        Assert.Equal(8, Specs.Listener(coordinator, "e").Accepted);
        Assert.Equal(5, Specs.Listener(coordinator, "e").OpenConnections);
        foreach (var c in clients) c.Dispose();
    }

    [Fact]
    public async Task A_crash_of_a_shard_actor_must_close_no_socket_and_drop_no_connection()
    {
        var coordinator = Specs.StartCoordinator(Sys, Specs.Settings("""e { endpoint = "127.0.0.1:0", handler = echo, shards = 1 }"""));
        var endPoint = Specs.EndPoint(coordinator, "e");
        var inode = Specs.Listener(coordinator, "e").Shards.Single().SocketInode;
        using var client = await Clients.ConnectAsync(endPoint);
        await Clients.SendAsync(client, "a");
        await Clients.ReceiveExactlyAsync(client, 1);

        // Kill makes the actor fail (ActorKilledException); its group's supervision restarts it, as for any crash.
        var shard = await Specs.ShardAsync(Sys, "e", 0);
        EventFilter.Exception<ActorKilledException>().ExpectOne(() => shard.Tell(Kill.Instance, TestActor));

        // Same socket, same connection, and new connections are still accepted.
        Assert.Equal(inode, Specs.Listener(coordinator, "e").Shards.Single().SocketInode);
        await Clients.SendAsync(client, "b");
        Assert.Equal("b"u8.ToArray(), await Clients.ReceiveExactlyAsync(client, 1));
        using var next = await Clients.ConnectAsync(endPoint);
        await Clients.SendAsync(next, Encoding.ASCII.GetString("c"u8));
        Assert.Equal("c"u8.ToArray(), await Clients.ReceiveExactlyAsync(next, 1));
        Assert.Equal(2, Specs.Listener(coordinator, "e").OpenConnections);
    }

    [Fact]
    public async Task Connections_reset_while_waiting_in_the_backlog_must_not_stop_the_listener()
    {
        // One slot: the first client holds it, the next ones wait (parked or in the kernel's backlog) and reset.
        var coordinator = Specs.StartCoordinator(Sys,
            Specs.Settings("""e { endpoint = "127.0.0.1:0", handler = echo, shards = 1, max-connections = 1 }"""));
        var endPoint = Specs.EndPoint(coordinator, "e");
        var holder = await Clients.ConnectAsync(endPoint);
        await Clients.SendAsync(holder, "h");
        await Clients.ReceiveExactlyAsync(holder, 1);

        for (var i = 0; i < 10; i++)
        {
            var quitter = await Clients.ConnectAsync(endPoint);
            await Clients.SendAsync(quitter, "never answered");
            quitter.LingerState = new LingerOption(true, 0);
            quitter.Dispose(); // RST while it waits
        }

        holder.Dispose();
        // The listener survives every reset and serves the next client.
        using var next = await Clients.ConnectAsync(endPoint);
        await Clients.SendAsync(next, "next");
        Assert.Equal("next"u8.ToArray(), await Clients.ReceiveExactlyAsync(next, 4));
        await AwaitAssertAsync(() => Assert.Equal(1, Specs.Listener(coordinator, "e").OpenConnections), Clients.Timeout);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(16)]
    [InlineData(17)]
    public async Task A_handler_that_closes_while_the_peer_streams_must_end_with_a_FIN_not_a_reset(int closeOnRead)
    {
        var handler = new CloseOnNthReadFactory(closeOnRead);
        var coordinator = Specs.StartCoordinator(Sys,
            Specs.Settings("""c { endpoint = "127.0.0.1:0", handler = close-on-nth, shards = 1 }"""),
            HandlerCatalog.WithBuiltIns().Add(handler));
        using var client = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "c"));

        // Stream in small pieces until the server's reply ends (bounded), so it reads as often as it takes; what we send
        // after its close is read and discarded while it lingers.
        using var done = new CancellationTokenSource();
        // First a burst bigger than a whole read batch (8 reads of the 4 KiB receive buffer): the close then falls
        // inside a batch, the case where a nested read once started a second receive on the same operation.
        await Clients.SendAsync(client, new string('b', 64 * 1024));
        var sending = Task.Run(async () =>
        {
            try
            {
                for (var i = 0; i < 1_000_000 && !done.IsCancellationRequested; i++) await Clients.SendAsync(client, "0123456789");
            }
            catch (SocketException)
            {
                // The server closed its side for good after lingering: fine, we only check how it ended.
            }
        });
        var received = await Clients.ReceiveToEndAsync(client, TimeSpan.FromMinutes(1)); // throws on a reset
        done.Cancel();
        Assert.EndsWith("bye", received);
        await sending.WaitAsync(TimeSpan.FromMinutes(1));
        // The connection ended as the handler asked (graceful close), not aborted by a failure of the connection actor.
        await AwaitAssertAsync(() => Assert.Equal([ConnectionCloseReason.Closed], handler.Closed.ToArray()), Clients.Timeout);
    }

    [Fact]
    public async Task A_retiring_shard_with_a_parked_connection_must_finish_its_drain()
    {
        var coordinator = Specs.StartCoordinator(Sys,
            Specs.Settings("""e { endpoint = "127.0.0.1:0", handler = echo, shards = 1, max-connections = 1, drain-timeout = 500ms }"""));
        var endPoint = Specs.EndPoint(coordinator, "e");
        using var holder = await Clients.ConnectAsync(endPoint);
        await Clients.SendAsync(holder, "h");
        await Clients.ReceiveExactlyAsync(holder, 1);
        using var waiting = await Clients.ConnectAsync(endPoint);
        await Clients.SendAsync(waiting, "w");

        var drained = await coordinator.Ask<object>(new ShardRuntime.Actors.Coordination.Coordinator.Drain(TimeSpan.FromMilliseconds(500)), Clients.Timeout);
        Assert.IsType<ShardRuntime.Actors.Coordination.Coordinator.Drained>(drained);
        Assert.Empty(Specs.Status(coordinator).Listeners.SelectMany(l => l.Shards));
    }

    [Fact]
    public async Task A_crash_of_a_retiring_shard_must_keep_draining_its_connections()
    {
        var coordinator = Specs.StartCoordinator(Sys, Specs.Settings("""e { endpoint = "127.0.0.1:0", handler = echo, shards = 2, drain-timeout = 60s }"""));
        var endPoint = Specs.EndPoint(coordinator, "e");
        var clients = await Clients.OpenEchoedAsync(endPoint, 32, "a");
        var onShard1 = Specs.Listener(coordinator, "e").Shards.Single(s => s.ShardId == 1).OpenConnections;
        Assert.True(onShard1 > 0, "the kernel put none of 32 connections on shard 1");
        var shard = await Specs.ShardAsync(Sys, "e", 1);
        var probe = CreateTestProbe();
        probe.Watch(shard);

        // Shard 1 retires with its connections, then crashes while it drains.
        await coordinator.Ask<ShardRuntime.Actors.Coordination.Coordinator.ScaledTo>(new ShardRuntime.Actors.Coordination.Coordinator.ScaleTo("e", 1), Clients.Timeout);
        EventFilter.Exception<ActorKilledException>().ExpectOne(() => shard.Tell(Kill.Instance, TestActor));

        // Every connection still works; the retiring shard still waits for its own and stops once they are gone.
        foreach (var c in clients)
        {
            await Clients.SendAsync(c, "b");
            Assert.Equal("b"u8.ToArray(), await Clients.ReceiveExactlyAsync(c, 1));
        }
        var retiring = Specs.Listener(coordinator, "e").Shards.Single(s => s.ShardId == 1);
        Assert.Equal("retiring", retiring.State);
        Assert.Equal(onShard1, retiring.OpenConnections);
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        foreach (var c in clients)
        {
            c.Shutdown(SocketShutdown.Send);
            Assert.Equal("", await Clients.ReceiveToEndAsync(c));
            c.Dispose();
        }
        probe.ExpectTerminated(shard, Clients.Timeout);
    }
}
