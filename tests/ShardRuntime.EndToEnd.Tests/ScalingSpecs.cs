using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using ShardRuntime.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests;

/// <summary><c>scale</c> through the command-line tool changes the kernel's sockets while traffic flows.</summary>
public sealed class ScalingSpecs(ITestOutputHelper output)
{
    private static readonly TimeSpan PhaseTimeout = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan MinimumPhase = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task Scaling_to_4_then_1_then_3_under_traffic_must_answer_every_keep_alive_request_and_the_kernel_must_follow()
    {
        await using var host = HostProcess.Start(output, HostProcess.Config("""
                http { endpoint = "127.0.0.1:0", handler = http-ok, shards = 2 }
            """));
        var endPoint = (await host.WaitUntilReadyAsync()).Listener("http").Bound;

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(150)); // hard bound on the traffic
        var keepAlive = new List<KeepAliveClient>();
        var churn = new ChurnClient(endPoint);
        var churnLoops = new List<Task>();
        var total = Stopwatch.StartNew();
        try
        {
            for (var i = 0; i < 3; i++)
                keepAlive.Add(await KeepAliveClient.StartAsync(endPoint, stop.Token));
            for (var i = 0; i < 2; i++)
                churnLoops.Add(Task.Run(() => churn.RunAsync(stop.Token)));
            await WaitForTrafficAsync(keepAlive, churn, "before scaling");

            foreach (var shards in new[] { 4, 1, 3 })
            {
                var phase = Stopwatch.StartNew();
                var scaled = await host.RunCliAsync("scale", "http", shards.ToString(CultureInfo.InvariantCulture));
                Assert.True(scaled.ExitCode == 0, scaled.ToString());
                Assert.Contains($"http: {shards} shard(s) accepting", scaled.StdOut);

                var kernel = await KernelSockets.WaitForListeningCountAsync(endPoint, shards, PhaseTimeout);
                var listener = (await host.StatusAsync()).Listener("http");
                Assert.Equal(shards, listener.DesiredShards);
                Assert.Equal(listener.Accepting.Select(s => s.SocketInode).Order(), kernel.Order());
                output.WriteLine($"scale {shards}: kernel shows {kernel.Count} socket(s) after {phase.ElapsedMilliseconds} ms; shards " +
                    string.Join(", ", listener.Shards.Select(s => $"{s.ShardId}:{s.State}:{s.OpenConnections} open")));

                if (shards == 4)
                {
                    // New keep-alive connections may land on shards 2 and 3, which retire at the next step.
                    for (var i = 0; i < 3; i++)
                        keepAlive.Add(await KeepAliveClient.StartAsync(endPoint, stop.Token));
                }
                await WaitForTrafficAsync(keepAlive, churn, $"after scale {shards}");
            }
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(keepAlive.Select(k => k.StopAsync()).Concat(churnLoops));
        }

        output.WriteLine($"traffic for {total.Elapsed.TotalSeconds:0.0}s: " +
            $"keep-alive answers [{string.Join(", ", keepAlive.Select(k => k.Answers))}], " +
            $"churn {churn.Successes} answered, {churn.Resets} reset, {churn.Refused} refused, {churn.Failures.Count} other failure(s)");
        foreach (var failure in churn.Failures.Take(10))
            output.WriteLine($"churn failure: {failure}");

        Assert.All(keepAlive, k => Assert.True(k.Failure is null, $"keep-alive connection failed after {k.Answers} answers: {k.Failure}"));
        Assert.Equal(0, churn.Refused);
        Assert.Empty(churn.Failures);
        Assert.True(churn.Successes > 0);
    }

    [Fact]
    public async Task Scaling_256_to_2_must_close_each_retiring_socket_once_and_promptly()
    {
        await using var host = HostProcess.Start(output, HostProcess.Config("""
                http { endpoint = "127.0.0.1:0", handler = http-ok, shards = 256 }
            """));
        const string closing = "closing socket inode";
        host.CountLines(closing);
        var endPoint = (await host.WaitUntilReadyAsync()).Listener("http").Bound;
        Assert.Equal(256, (await KernelSockets.ListeningInodesAsync(endPoint)).Count);

        var watch = Stopwatch.StartNew();
        var scaled = await host.RunCliAsync("scale", "http", "2");
        Assert.True(scaled.ExitCode == 0, scaled.ToString());
        await KernelSockets.WaitForListeningCountAsync(endPoint, 2, TimeSpan.FromSeconds(90));
        var closed = watch.Elapsed;
        var status = await host.StatusWhenAsync(s => s.Listener("http").Shards.Count <= 2, TimeSpan.FromSeconds(30));
        output.WriteLine($"scale 256 -> 2: the kernel showed 2 sockets after {closed.TotalMilliseconds:0} ms, every retiring shard gone after " +
            $"{watch.ElapsedMilliseconds} ms; '{closing}' logged {host.CountedLines(closing)} times");

        Assert.Equal(2, status.Listener("http").Shards.Count);
        Assert.Equal(254, host.CountedLines(closing)); // once per retiring shard
        // Bounded by the retire-quiet-period (200 ms) and a single re-steer, not by 254 closes in turn.
        Assert.True(closed < TimeSpan.FromSeconds(10), $"the retiring sockets took {closed} to close");
    }

    /// <summary>Waits at least <see cref="MinimumPhase"/> and until every keep-alive connection got 3 more answers and the churn loops 20 more.</summary>
    private async Task WaitForTrafficAsync(IReadOnlyList<KeepAliveClient> keepAlive, ChurnClient churn, string when)
    {
        var from = keepAlive.Select(k => k.Answers).ToArray();
        var churnFrom = churn.Successes;
        var stopwatch = Stopwatch.StartNew();
        var served = await Eventually.TrueAsync(() =>
        {
            var failed = keepAlive.FirstOrDefault(k => k.Failure is not null);
            Assert.True(failed is null, $"{when}: a keep-alive connection failed after {failed?.Answers} answers: {failed?.Failure}");
            return keepAlive.Select((k, i) => k.Answers - from[i] >= 3).All(x => x) && churn.Successes - churnFrom >= 20
                && stopwatch.Elapsed >= MinimumPhase;
        }, PhaseTimeout, TimeSpan.FromMilliseconds(20));
        Assert.True(served,
            $"{when}: no answers within {PhaseTimeout.TotalSeconds}s; keep-alive answers [{string.Join(", ", keepAlive.Select(k => k.Answers))}] " +
            $"from [{string.Join(", ", from)}], churn {churn.Successes} from {churnFrom}");
    }

    /// <summary>One connection that keeps asking; its first failure ends it and is kept.</summary>
    private sealed class KeepAliveClient
    {
        private readonly Socket socket;
        private Task loop = Task.CompletedTask;
        private int answers;

        private KeepAliveClient(Socket socket) => this.socket = socket;

        public int Answers => Volatile.Read(ref answers);

        public string? Failure { get; private set; }

        public static async Task<KeepAliveClient> StartAsync(IPEndPoint endPoint, CancellationToken stop)
        {
            var client = new KeepAliveClient(await Clients.ConnectAsync(endPoint));
            client.loop = Task.Run(() => client.RunAsync(stop));
            return client;
        }

        public async Task StopAsync()
        {
            await loop;
            socket.Dispose();
        }

        private async Task RunAsync(CancellationToken stop)
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var reply = await Clients.HttpGetAsync(socket);
                    if (reply.StatusLine != "HTTP/1.1 200 OK" || reply.Body != "OK")
                    {
                        Failure = $"unexpected answer '{reply.Head}' / '{reply.Body}'";
                        return;
                    }
                    Interlocked.Increment(ref answers);
                    await Task.Delay(10, CancellationToken.None);
                }
                catch (Exception e)
                {
                    Failure = $"{e.GetType().Name}: {e.Message}";
                    return;
                }
            }
        }
    }

    /// <summary>Fresh connections, one request each; counts answers, resets, refusals and other failures.</summary>
    private sealed class ChurnClient(IPEndPoint endPoint)
    {
        private int successes, resets, refused;

        public int Successes => Volatile.Read(ref successes);

        public int Resets => Volatile.Read(ref resets);

        public int Refused => Volatile.Read(ref refused);

        public ConcurrentQueue<string> Failures { get; } = new();

        public async Task RunAsync(CancellationToken stop)
        {
            while (!stop.IsCancellationRequested)
            {
                var stage = "connect";
                var started = DateTime.Now;
                try
                {
                    using var socket = await Clients.ConnectAsync(endPoint);
                    stage = $"request from {socket.LocalEndPoint}";
                    var reply = await Clients.HttpGetAsync(socket);
                    if (reply.StatusLine == "HTTP/1.1 200 OK" && reply.Body == "OK")
                        Interlocked.Increment(ref successes);
                    else
                        Failures.Enqueue($"unexpected answer '{reply.Head}' / '{reply.Body}'");
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
                {
                    Interlocked.Increment(ref resets);
                }
                catch (IOException e) when (e.Message.StartsWith("connection closed", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref resets); // EOF instead of an answer: the connection died in a closed queue
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
                {
                    Interlocked.Increment(ref refused);
                }
                catch (OperationCanceledException)
                {
                    Failures.Enqueue($"{stage} started {started:HH:mm:ss.fff}: no answer, no close and no reset within {Clients.Timeout.TotalSeconds}s");
                }
                catch (Exception e)
                {
                    Failures.Enqueue($"{stage} started {started:HH:mm:ss.fff}: {e.GetType().Name}: {e.Message}");
                }
                await Task.Delay(5, CancellationToken.None);
            }
        }
    }
}
