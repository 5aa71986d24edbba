using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Akka.TestKit.Xunit2;
using ShardRuntime.Actors.Tests.Support;
using Xunit.Abstractions;

namespace ShardRuntime.Actors.Tests.Connection;

/// <summary>
/// Clients that attack a node on purpose (slow heads, pipelined bursts never read) must not take it from the others:
/// real loopback connections to http-ok on two shards and two I/O loops, with a well-behaved client served throughout.
/// </summary>
public sealed class HostileClientSpecs : TestKit
{
    private readonly ITestOutputHelper _output;

    public HostileClientSpecs(ITestOutputHelper output) : base(output: output) => _output = output;

    private static readonly byte[] Request = "GET / HTTP/1.1\r\n\r\n"u8.ToArray();

    [Fact]
    public async Task Slow_readers_pipelining_bursts_they_never_read_must_not_hold_the_loops_from_other_clients()
    {
        var coordinator = Specs.StartCoordinator(Sys,
            Specs.Settings("""h { endpoint = "127.0.0.1:0", handler = http-ok, shards = 2 }""", "io-loops = 2, actors-on-io-loops = on"));
        var endPoint = Specs.EndPoint(coordinator, "h");
        using var probe = await Clients.ConnectAsync(endPoint);
        await Clients.HttpGetAsync(probe);

        // 200 connections, each sending 1 MiB of pipelined requests (about 58,000) and reading none of the answers.
        var burst = new byte[1024 * 1024 / Request.Length * Request.Length];
        for (var i = 0; i < burst.Length; i += Request.Length) Request.CopyTo(burst, i);
        var hogs = new List<Socket>();
        var sends = new List<Task>();
        try
        {
            for (var i = 0; i < 200; i++) hogs.Add(await Clients.ConnectAsync(endPoint));
            foreach (var hog in hogs) sends.Add(SendIgnoringTheEndAsync(hog, burst));

            // The probe asks one request at a time for as long as the attack keeps the node busy (3 s is longer than
            // the node needs to answer what the slow readers' buffers take), and notes its slowest answer.
            var worst = TimeSpan.Zero;
            var answered = 0;
            var window = Stopwatch.StartNew();
            while (window.Elapsed < TimeSpan.FromSeconds(3))
            {
                var one = Stopwatch.StartNew();
                Assert.StartsWith("HTTP/1.1 200 OK", await Clients.HttpGetAsync(probe));
                worst = one.Elapsed > worst ? one.Elapsed : worst;
                answered++;
            }
            var received = Specs.Listener(coordinator, "h").Shards.Sum(s => s.BytesReceived);
            _output.WriteLine($"probe: {answered} answers in {window.ElapsedMilliseconds} ms, slowest {worst.TotalMilliseconds:0} ms; " +
                $"the node read {received / 1024} KiB of the slow readers' {hogs.Count * burst.Length / 1024} KiB");
            // Each busy connection gets a turn of one read (4 KiB) at a time, between the others' turns and the loop's looks
            // at its sockets: the probe waits for about one round of them (0.1-0.4 s here, where it waited 3 s for the
            // slow readers' whole bursts before); a generous bound for a loaded 2-core machine.
            Assert.True(worst < TimeSpan.FromSeconds(1), $"the probe's slowest answer took {worst.TotalMilliseconds:0} ms");
        }
        finally
        {
            foreach (var hog in hogs) hog.Dispose();
            await Task.WhenAll(sends);
        }
    }

    /// <summary>Sends <paramref name="data"/> until the socket is closed under it (a slow reader's send never finishes).</summary>
    private static async Task SendIgnoringTheEndAsync(Socket socket, byte[] data)
    {
        try
        {
            await socket.SendAsync(data, SocketFlags.None);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }
}
