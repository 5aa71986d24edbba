using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace ShardRuntime.Actors.Tests.Support;

/// <summary>
/// Connection churn beside a spec: workers that each open a new connection, make one HTTP request and close, over and
/// over, bounded by a count and two minutes. Every connection that was refused, reset, timed out or answered with
/// anything but 200 is recorded as a failure.
/// </summary>
internal sealed class ChurnLoad
{
    private readonly CancellationTokenSource _stop = new(TimeSpan.FromMinutes(2));
    private readonly List<Task> _workers;
    private int _served;

    private ChurnLoad(IPEndPoint endPoint, int workers, int limit, Func<Socket> newSocket) =>
        _workers = Enumerable.Range(0, workers).Select(_ => Task.Run(() => Work(endPoint, limit, newSocket))).ToList();

    public ConcurrentQueue<string> Failures { get; } = new();

    public int Served => Volatile.Read(ref _served);

    /// <param name="newSocket">Makes each client socket (for example inside a network namespace); default: a plain IPv4 TCP socket.</param>
    public static ChurnLoad Start(IPEndPoint endPoint, int workers = 1, int limit = 40_000, Func<Socket>? newSocket = null) =>
        new(endPoint, workers, limit, newSocket ?? (() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)));

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_workers);
    }

    private async Task Work(IPEndPoint endPoint, int limit, Func<Socket> newSocket)
    {
        while (!_stop.IsCancellationRequested && Served < limit)
        {
            try
            {
                using var client = newSocket();
                client.NoDelay = true;
                using (var cts = new CancellationTokenSource(Clients.Timeout))
                    await client.ConnectAsync(endPoint, cts.Token);
                var reply = await Clients.HttpGetAsync(client);
                if (reply.StatusLine == "HTTP/1.1 200 OK") Interlocked.Increment(ref _served);
                else Failures.Enqueue($"wrong reply: {reply}");
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
            }
            catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
            {
                // Retiring sockets are steered away from and drained before they close: nothing queued may be lost.
                Failures.Enqueue($"{e.GetType().Name}: {e.Message}");
            }
        }
    }
}
