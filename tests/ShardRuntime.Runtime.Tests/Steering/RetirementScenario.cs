using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using ShardRuntime.Runtime.Sockets;
using Xunit.Abstractions;
using static ShardRuntime.Runtime.Tests.Sockets.SocketTestKit;

namespace ShardRuntime.Runtime.Tests.Steering;

/// <summary>
/// Four reuseport listeners echo one byte per connection while a client opens connections continuously; meanwhile
/// one listener retires. To make the test able to lose anything at all, the retiring listener first stops accepting
/// until its accept queue holds <see cref="QueuedBeforeRetirement"/> connections: a plain close() then resets all of
/// them, and the steering procedure must hand every one of them on.
/// </summary>
internal sealed class RetirementScenario
{
    public const int QueuedBeforeRetirement = 50;
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan PaceInterval = TimeSpan.FromMilliseconds(1.5);

    private readonly Func<Func<Socket>, Socket> create;
    private readonly ConcurrentBag<Task> handlers = [];
    private int started;

    /// <param name="create">Creates a socket (in the network namespace the scenario runs in).</param>
    public RetirementScenario(Func<Func<Socket>, Socket> create) => this.create = create;

    public enum Retirement
    {
        /// <summary>
        /// The product's procedure (what a group actor does with its shard): mark retiring and steer away, keep accepting
        /// while <see cref="ListenerDrain.Check"/> says it drains, close when <see cref="ReuseportGroup.ClosesNow"/> names
        /// it, remove it from the model and steer again.
        /// </summary>
        SteerDrainClose,

        /// <summary>close() alone, what a server without the procedure does.</summary>
        PlainClose,
    }

    /// <param name="StartedAfterRetirement">Connections the client started after the retiring listener was closed.</param>
    public sealed record Outcome(
        int Connections, int Echoed, int Reset, int Refused, int TimedOut, int Other, int QueuedAtRetirement, int StartedAfterRetirement, DrainResult? Drain)
    {
        public int Lost => Reset + Refused + TimedOut + Other;

        public override string ToString() =>
            $"{Connections} connections: {Echoed} echoed, {Lost} lost (reset {Reset}, refused {Refused}, timed out {TimedOut}, other {Other}); " +
            $"{QueuedAtRetirement} queued on the retiring listener when it retired, {StartedAfterRetirement} started after it closed" +
            (Drain is { } d ? $"; drain accepted {d.Accepted}, drained={d.Drained}, queued at end {d.QueuedAtEnd}, took {d.Elapsed.TotalMilliseconds:F0} ms" : "");
    }

    public async Task<Outcome> RunAsync(Retirement how, int retiringPosition, int connections, ITestOutputHelper output)
    {
        var shards = new List<Socket>();
        var loops = new List<(CancellationTokenSource Stop, Task Loop)>();
        try
        {
            var first = create(() => ReuseportSocketFactory.Instance.Bind(new ListenerSocketOptions(LoopbackAnyPort, TransportProtocol.Tcp, 4096)));
            shards.Add(first);
            var endPoint = (IPEndPoint)first.LocalEndPoint!;
            for (int i = 1; i < 4; i++)
            {
                shards.Add(create(() => ReuseportSocketFactory.Instance.Bind(new ListenerSocketOptions(endPoint, TransportProtocol.Tcp, 4096))));
            }

            var group = new ReuseportGroup();
            shards.ForEach(group.Add);
            foreach (var shard in shards)
            {
                var stop = new CancellationTokenSource();
                loops.Add((stop, AcceptLoopAsync(shard, stop.Token)));
            }

            var retiring = shards[retiringPosition];

            // The retiring listener stops accepting first, as a retiring shard does; its queue fills.
            loops[retiringPosition].Stop.Cancel();
            await loops[retiringPosition].Loop;

            using var clientDeadline = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            var client = RunClientAsync(endPoint, connections, clientDeadline.Token);

            bool filled = await Eventually.TrueAsync(() => client.IsCompleted || ListenerDrain.QueueLength(retiring) >= QueuedBeforeRetirement, TimeSpan.FromSeconds(20));
            Assert.True(filled && !client.IsCompleted, "the retiring listener's queue never filled while the client ran");
            int queued = ListenerDrain.QueueLength(retiring);

            DrainResult? drain = null;
            if (how == Retirement.SteerDrainClose)
            {
                drain = await RetireAsync(group, retiring, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10));
                Assert.Equal(3, group.Count);
            }
            else
            {
                retiring.Dispose();
                group.Remove(retiring);
            }

            int startedBeforeClose = Volatile.Read(ref started);
            var counts = await client;
            var outcome = counts with { QueuedAtRetirement = queued, Drain = drain, StartedAfterRetirement = connections - startedBeforeClose };
            output.WriteLine($"{how}, retiring position {retiringPosition}: {outcome}");
            return outcome;
        }
        finally
        {
            foreach (var (stop, loop) in loops)
            {
                stop.Cancel();
                await loop;
                stop.Dispose();
            }

            DisposeAll(shards);
            await Task.WhenAll(handlers);
        }
    }

    /// <summary>What the retirement's drain did: connections it accepted, whether the queue went quiet before the deadline, what was still queued at the close.</summary>
    public sealed record DrainResult(int Accepted, bool Drained, int QueuedAtEnd, TimeSpan Elapsed);

    /// <summary>
    /// Retires <paramref name="retiring"/> as a group actor does: the same model, steering, drain and close-order
    /// decisions, with an accept loop standing in for the shard actor and a periodic check (a quarter of the quiet
    /// period, as the group's timer) standing in for the group's.
    /// </summary>
    private async Task<DrainResult> RetireAsync(ReuseportGroup group, Socket retiring, TimeSpan quietPeriod, TimeSpan deadline)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        group.MarkRetiring(retiring);
        group.ApplySteering();
        var drain = new ListenerDrain(Environment.TickCount64, quietPeriod, Environment.TickCount64 + (long)deadline.TotalMilliseconds);
        long lastAccepted = 0;
        int accepted = 0;
        using var stop = new CancellationTokenSource();
        var shard = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var connection = await retiring.AcceptAsync(stop.Token);
                    Volatile.Write(ref lastAccepted, Environment.TickCount64);
                    Interlocked.Increment(ref accepted);
                    StartEcho(connection);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionAborted or SocketError.ConnectionReset)
                {
                    // One connection, not the listener.
                }
            }
        });

        DrainCheck last = DrainCheck.Draining;
        while (true)
        {
            await Task.Delay(quietPeriod / 4);
            var closes = group.ClosesNow(s => s == retiring
                ? last = drain.Check(Environment.TickCount64, Volatile.Read(ref lastAccepted), () => ListenerDrain.QueueLength(s))
                : null);
            if (closes.Contains(retiring))
            {
                break;
            }
        }

        stop.Cancel();
        await shard;
        int queuedAtEnd = ListenerDrain.QueueLength(retiring);
        retiring.Dispose();
        group.Remove(retiring);
        group.ApplySteering();
        return new DrainResult(Volatile.Read(ref accepted), last == DrainCheck.Drained, queuedAtEnd, clock.Elapsed);
    }

    private async Task AcceptLoopAsync(Socket listener, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                StartEcho(await listener.AcceptAsync(stop));
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionAborted or SocketError.ConnectionReset)
            {
                // One connection, not the listener.
            }
        }
    }

    private void StartEcho(Socket connection) => handlers.Add(EchoAsync(connection));

    private async Task EchoAsync(Socket connection)
    {
        using (connection)
        {
            try
            {
                using var timeout = new CancellationTokenSource(ReplyTimeout);
                var buffer = new byte[1];
                if (await connection.ReceiveAsync(buffer, timeout.Token) == 1)
                {
                    await connection.SendAsync(buffer, timeout.Token);
                }
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException)
            {
                // The client sees it and counts it.
            }
        }
    }

    private async Task<Outcome> RunClientAsync(IPEndPoint endPoint, int connections, CancellationToken deadline)
    {
        int echoed = 0, reset = 0, refused = 0, timedOut = 0, other = 0;
        using var inFlight = new SemaphoreSlim(200);
        var attempts = new List<Task>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < connections; i++)
        {
            // Paced, so connections keep arriving before, during and after the retirement (about 650 a second).
            while (clock.Elapsed < i * PaceInterval)
            {
                await Task.Delay(1, deadline);
            }

            await inFlight.WaitAsync(deadline);
            Interlocked.Increment(ref started);
            byte value = (byte)i;
            attempts.Add(Task.Run(async () =>
            {
                try
                {
                    using var client = create(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(deadline);
                    timeout.CancelAfter(ReplyTimeout);
                    await client.ConnectAsync(endPoint, timeout.Token);
                    await client.SendAsync(new[] { value }, timeout.Token);
                    var reply = new byte[1];
                    int read = await client.ReceiveAsync(reply, timeout.Token);
                    Interlocked.Increment(ref read == 1 && reply[0] == value ? ref echoed : ref other);
                }
                catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
                {
                    Interlocked.Increment(ref reset);
                }
                catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionRefused)
                {
                    Interlocked.Increment(ref refused);
                }
                catch (OperationCanceledException)
                {
                    Interlocked.Increment(ref timedOut);
                }
                catch (SocketException)
                {
                    Interlocked.Increment(ref other);
                }
                finally
                {
                    inFlight.Release();
                }
            }));
        }

        await Task.WhenAll(attempts);
        return new Outcome(connections, echoed, reset, refused, timedOut, other, 0, 0, null);
    }
}
