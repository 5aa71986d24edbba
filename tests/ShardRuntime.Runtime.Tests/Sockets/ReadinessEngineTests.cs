using System.Net;
using System.Net.Sockets;
using ShardRuntime.Runtime.Sockets.Readiness;

namespace ShardRuntime.Runtime.Tests.Sockets;

public sealed class ReadinessEngineTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    /// <summary>Counts the engine's calls and lets a test wait for the next one.</summary>
    private sealed class Listener : IReadinessListener
    {
        private readonly SemaphoreSlim _readable = new(0);
        private readonly SemaphoreSlim _writable = new(0);
        public int Readable;
        public int Writable;
        /// <summary>The states the calls passed, in order.</summary>
        public readonly System.Collections.Concurrent.ConcurrentQueue<object?> States = new();

        public void OnReadable(object? state)
        {
            States.Enqueue(state);
            Interlocked.Increment(ref Readable);
            _readable.Release();
        }

        public void OnWritable(object? state)
        {
            States.Enqueue(state);
            Interlocked.Increment(ref Writable);
            _writable.Release();
        }

        public Task<bool> ReadableAsync() => _readable.WaitAsync(Wait);

        public Task<bool> WritableAsync() => _writable.WaitAsync(Wait);
    }

    private static async Task<(Socket Server, Socket Client)> ConnectedPairAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        var server = await listener.AcceptAsync();
        return (server, client);
    }

    private static int Fd(Socket socket) => (int)socket.SafeHandle.DangerousGetHandle();

    [Fact]
    public async Task An_armed_registration_must_be_told_once_when_data_arrives_and_not_before_it_is_armed()
    {
        var (server, client) = await ConnectedPairAsync();
        using var serverOwner = server;
        using var clientOwner = client;
        var listener = new Listener();
        using var registration = ReadinessEngine.Loop(0).Register(Fd(server), listener);
        var buffer = new byte[16];

        var seen = registration.ReadEdges;
        Assert.Equal(-1, SocketIo.Receive(Fd(server), buffer, out var error));
        Assert.Equal(SocketError.WouldBlock, error);
        Assert.True(registration.ArmRead(seen));

        client.Send("hello"u8);
        Assert.True(await listener.ReadableAsync(), "no OnReadable after data arrived");
        Assert.Equal(5, SocketIo.Receive(Fd(server), buffer, out error));
        Assert.Equal(SocketError.Success, error);
        Assert.Equal("hello"u8.ToArray(), buffer[..5]);

        // Not armed: more data counts an edge but tells nobody.
        var edges = registration.ReadEdges;
        client.Send("again"u8);
        await Eventually.UntilAsync(() => registration.ReadEdges > edges);
        Assert.Equal(1, listener.Readable);
    }

    [Fact]
    public async Task Arming_after_an_edge_that_came_in_between_must_say_read_again_instead_of_waiting()
    {
        var (server, client) = await ConnectedPairAsync();
        using var serverOwner = server;
        using var clientOwner = client;
        var listener = new Listener();
        using var registration = ReadinessEngine.Loop(0).Register(Fd(server), listener);

        var seen = registration.ReadEdges;
        client.Send("x"u8); // arrives between "read found nothing" and the arm
        await Eventually.UntilAsync(() => registration.ReadEdges > seen);

        Assert.False(registration.ArmRead(seen));
        var buffer = new byte[4];
        Assert.Equal(1, SocketIo.Receive(Fd(server), buffer, out _));
        Assert.Equal(0, listener.Readable);
    }

    [Fact]
    public async Task The_peer_s_close_must_wake_a_reader_and_read_as_end_of_input()
    {
        var (server, client) = await ConnectedPairAsync();
        using var serverOwner = server;
        var listener = new Listener();
        using var registration = ReadinessEngine.Loop(0).Register(Fd(server), listener);
        var seen = registration.ReadEdges;
        Assert.Equal(-1, SocketIo.Receive(Fd(server), new byte[4], out _));
        Assert.True(registration.ArmRead(seen));

        client.Shutdown(SocketShutdown.Send);
        client.Dispose();

        Assert.True(await listener.ReadableAsync(), "no OnReadable after the peer's FIN");
        Assert.Equal(0, SocketIo.Receive(Fd(server), new byte[4], out var error));
        Assert.Equal(SocketError.Success, error);
    }

    [Fact]
    public async Task A_full_send_buffer_must_wake_the_writer_once_the_peer_reads()
    {
        var (server, client) = await ConnectedPairAsync();
        using var serverOwner = server;
        using var clientOwner = client;
        server.SendBufferSize = 4096;
        client.ReceiveBufferSize = 4096;
        var listener = new Listener();
        using var registration = ReadinessEngine.Loop(0).Register(Fd(server), listener);
        var chunk = new byte[64 * 1024];

        // Fill the send buffer (bounded: the kernel's buffers are far smaller than this).
        var filled = false;
        for (var i = 0; i < 1000 && !filled; i++)
        {
            var seen = registration.WriteEdges;
            if (SocketIo.Send(Fd(server), chunk, out var error) >= 0) continue;
            Assert.Equal(SocketError.WouldBlock, error);
            filled = registration.ArmWrite(seen);
        }
        Assert.True(filled, "the send buffer never filled");

        var sink = new byte[1 << 20];
        client.ReceiveTimeout = 100; // bounded reads: the wake-up may come while the reader waits for more data
        var reader = Task.Run(() =>
        {
            var deadline = DateTime.UtcNow + Wait;
            while (Volatile.Read(ref listener.Writable) == 0 && DateTime.UtcNow < deadline)
            {
                try
                {
                    client.Receive(sink);
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
                {
                    // Nothing more to read right now; look at the wake-up again.
                }
            }
        });
        Assert.True(await listener.WritableAsync(), "no OnWritable after the peer read");
        await reader;
    }

    [Fact]
    public async Task A_disposed_registration_must_never_be_told_and_its_slot_must_be_reused()
    {
        var (server, client) = await ConnectedPairAsync();
        using var clientOwner = client;
        var listener = new Listener();
        var registration = ReadinessEngine.Loop(0).Register(Fd(server), listener);
        var seen = registration.ReadEdges;
        Assert.True(registration.ArmRead(seen));
        var before = ReadinessEngine.Loop(0).Registered;

        registration.Dispose();
        registration.Dispose(); // idempotent
        Assert.Equal(before - 1, ReadinessEngine.Loop(0).Registered);
        client.Send("late"u8);
        server.Dispose();

        // A new registration proves the engine went on; the old listener heard nothing.
        var (server2, client2) = await ConnectedPairAsync();
        using var server2Owner = server2;
        using var client2Owner = client2;
        var listener2 = new Listener();
        using var registration2 = ReadinessEngine.Loop(0).Register(Fd(server2), listener2);
        var seen2 = registration2.ReadEdges;
        Assert.Equal(-1, SocketIo.Receive(Fd(server2), new byte[4], out _));
        Assert.True(registration2.ArmRead(seen2));
        client2.Send("x"u8);
        Assert.True(await listener2.ReadableAsync());
        Assert.Equal(0, listener.Readable);
    }

    [Fact]
    public async Task One_listener_of_several_registrations_must_be_told_each_one_s_state()
    {
        var (server1, client1) = await ConnectedPairAsync();
        var (server2, client2) = await ConnectedPairAsync();
        using var server1Owner = server1;
        using var client1Owner = client1;
        using var server2Owner = server2;
        using var client2Owner = client2;
        var listener = new Listener();
        object first = "first", second = "second";
        using var registration1 = ReadinessEngine.Loop(0).Register(Fd(server1), listener, first);
        using var registration2 = ReadinessEngine.Loop(0).Register(Fd(server2), listener, second);

        var seen2 = registration2.ReadEdges;
        Assert.Equal(-1, SocketIo.Receive(Fd(server2), new byte[4], out _));
        Assert.True(registration2.ArmRead(seen2));
        client2.Send("x"u8);
        Assert.True(await listener.ReadableAsync(), "no OnReadable for the second registration");
        var seen1 = registration1.ReadEdges;
        Assert.Equal(-1, SocketIo.Receive(Fd(server1), new byte[4], out _));
        Assert.True(registration1.ArmRead(seen1));
        client1.Send("y"u8);
        Assert.True(await listener.ReadableAsync(), "no OnReadable for the first registration");

        Assert.Equal([second, first], listener.States.ToArray());
    }

    [Fact]
    public void Errors_must_map_to_the_socket_errors_dotnet_reports()
    {
        Assert.Equal(SocketError.WouldBlock, SocketIo.Map(11));
        Assert.Equal(SocketError.ConnectionReset, SocketIo.Map(104));
        Assert.Equal(SocketError.Shutdown, SocketIo.Map(32));
        Assert.Equal(SocketError.ConnectionAborted, SocketIo.Map(103));
        Assert.Equal(SocketError.SocketError, SocketIo.Map(9999));
        Assert.Equal(-1, SocketIo.Receive(-1, new byte[1], out var error));
        Assert.Equal(SocketError.OperationAborted, error); // EBADF
    }

    /// <summary>Records where and in which order posted work ran; the last item of a batch signals.</summary>
    private sealed class Recorder
    {
        public readonly System.Collections.Concurrent.ConcurrentQueue<(int Value, string? Thread)> Ran = new();
        public readonly SemaphoreSlim Done = new(0);

        public IThreadPoolWorkItem Item(int value, bool last = false) => new Work(this, value, last);

        /// <summary>The state of a posted callback (<see cref="ReadinessEngine.Post(Action{object?}, object?)"/>).</summary>
        public sealed class Posted(Recorder owner, int value, bool last)
        {
            public void Run()
            {
                owner.Ran.Enqueue((value, Thread.CurrentThread.Name));
                if (last) owner.Done.Release();
            }
        }

        private sealed class Work(Recorder owner, int value, bool last) : IThreadPoolWorkItem
        {
            public void Execute()
            {
                owner.Ran.Enqueue((value, Thread.CurrentThread.Name));
                if (last) owner.Done.Release();
            }
        }
    }

    [Fact]
    public async Task Work_posted_from_another_thread_must_wake_the_sleeping_loop_and_run_on_it_in_order()
    {
        var loop = ReadinessEngine.Loop(7);
        var recorder = new Recorder();
        // Many rounds, each after the loop has gone back to sleep (its queue is empty once the last item signalled).
        for (var round = 0; round < 200; round++)
        {
            for (var i = 0; i < 9; i++) loop.Post(recorder.Item(round * 10 + i));
            loop.Post(recorder.Item(round * 10 + 9, last: true));
            Assert.True(await recorder.Done.WaitAsync(Wait), $"round {round}: posted work did not run (the loop was not woken)");
        }
        Assert.Equal(Enumerable.Range(0, 2000), recorder.Ran.Select(r => r.Value));
        Assert.All(recorder.Ran, r => Assert.Equal("shardrt-io-7", r.Thread));
        Assert.Equal(7, loop.Index);
        Assert.Same(loop, ReadinessEngine.Loop(7 + ReadinessEngine.MaxLoops));
    }

    [Fact]
    public async Task Work_posted_from_several_threads_at_once_must_all_run_and_keep_each_thread_s_order()
    {
        var loop = ReadinessEngine.Loop(6);
        var recorder = new Recorder();
        const int threads = 4, each = 20_000;
        var remaining = threads * each;
        var all = new SemaphoreSlim(0);
        var posters = Enumerable.Range(0, threads).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < each; i++)
                loop.Post(new CountingWork(recorder, t * each + i, () => { if (Interlocked.Decrement(ref remaining) == 0) all.Release(); }));
        })).ToArray();
        await Task.WhenAll(posters);
        Assert.True(await all.WaitAsync(Wait), $"{Volatile.Read(ref remaining)} posted items never ran");
        foreach (var t in Enumerable.Range(0, threads))
        {
            var mine = recorder.Ran.Select(r => r.Value).Where(v => v / each == t).ToList();
            Assert.Equal(Enumerable.Range(t * each, each), mine);
        }
    }

    [Fact]
    public async Task Callbacks_posted_with_their_state_must_run_on_the_loop_in_order_with_work_items()
    {
        var loop = ReadinessEngine.Loop(7);
        var recorder = new Recorder();
        for (var i = 0; i < 100; i++)
        {
            if (i % 2 == 0) loop.Post(recorder.Item(i));
            else loop.Post(static state => ((Recorder.Posted)state!).Run(), new Recorder.Posted(recorder, i, last: i == 99));
        }
        Assert.True(await recorder.Done.WaitAsync(Wait), "the posted callbacks did not run");
        Assert.Equal(Enumerable.Range(0, 100), recorder.Ran.Select(r => r.Value));
        Assert.All(recorder.Ran, r => Assert.Equal("shardrt-io-7", r.Thread));
    }

    private sealed class CountingWork(Recorder recorder, int value, Action after) : IThreadPoolWorkItem
    {
        public void Execute()
        {
            recorder.Ran.Enqueue((value, Thread.CurrentThread.Name));
            after();
        }
    }

    [Fact]
    public async Task A_failing_work_item_must_not_stop_the_loop()
    {
        var loop = ReadinessEngine.Loop(5);
        var recorder = new Recorder();
        loop.Post(new Throwing());
        loop.Post(recorder.Item(1, last: true));
        Assert.True(await recorder.Done.WaitAsync(Wait), "the loop stopped after a work item threw");
    }

    private sealed class Throwing : IThreadPoolWorkItem
    {
        public void Execute() => throw new InvalidOperationException("thrown on purpose by a test");
    }
}
