using System.Net;
using System.Net.Sockets;
using ShardRuntime.LoadGen.Reporting;
using ShardRuntime.LoadGen.Run;
using ShardRuntime.LoadGen.Tests.Support;

namespace ShardRuntime.LoadGen.Tests;

public sealed class LoadRunSpecs
{
    /// <summary>Every run here is bounded by count or duration; this only keeps a broken run from hanging the suite.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static LoadOptions Options(IPEndPoint target, LoadMode mode = LoadMode.Churn) => new()
    {
        Target = target,
        Mode = mode,
        Rate = 2000,
        MaxInFlight = 64,
        Connections = 4,
        Duration = TimeSpan.FromSeconds(20),
        Timeout = TimeSpan.FromSeconds(5),
    };

    private static Task<LoadReport> RunAsync(LoadOptions options) => LoadRun.RunAsync(options).WaitAsync(Bound);

    [Theory]
    [InlineData(LoadMode.Churn, 1)]
    [InlineData(LoadMode.KeepAlive, 1)]
    [InlineData(LoadMode.KeepAlive, 8)]
    public async Task Every_attempt_against_a_correct_http_responder_must_succeed(LoadMode mode, int pipeline)
    {
        await using var server = TestServer.Http((_, _) => TestServer.Ok());

        var report = await RunAsync(Options(server.EndPoint, mode) with { Count = 400, Pipeline = pipeline });

        Assert.Equal(400, report.Total.Attempts);
        Assert.Equal(400, report.Total.Succeeded);
        Assert.Equal(0, report.Total.Failed);
        Assert.Equal(400, report.Total.Latency.Count);
        Assert.True(report.Total.Latency.P50Us > 0 && report.Total.Latency.P50Us <= report.Total.Latency.MaxUs);
        if (mode == LoadMode.Churn)
            Assert.Equal(400, report.Churn!.ConnectionsOpened);
        else
            Assert.Equal(4, report.KeepAlive!.ConnectionsOpened);
    }

    [Fact]
    public async Task Churn_and_keepalive_together_must_count_each_mode_separately()
    {
        await using var server = TestServer.Http((_, _) => TestServer.Ok());

        var report = await RunAsync(Options(server.EndPoint, LoadMode.Both) with { Count = 600 });

        Assert.Equal(600, report.Total.Succeeded);
        Assert.True(report.Churn!.Succeeded > 0, "no churn attempt ran");
        Assert.True(report.KeepAlive!.Succeeded > 0, "no keep-alive attempt ran");
        Assert.Equal(600, report.Churn.Succeeded + report.KeepAlive.Succeeded);
    }

    [Fact]
    public async Task A_server_that_resets_every_third_connection_must_show_as_reset()
    {
        await using var server = TestServer.Start(async (socket, connection, token) =>
        {
            if (connection % 3 == 0)
            {
                socket.LingerState = new LingerOption(true, 0);
                socket.Close();
                return;
            }
            await TestServer.ForEachRequestAsync(socket, token, () => TestServer.SendAsync(socket, TestServer.Ok(), token));
        });

        var report = await RunAsync(Options(server.EndPoint) with { Count = 30 });

        Assert.Equal(10, report.Total.Reset);
        Assert.Equal(20, report.Total.Succeeded);
        Assert.Equal(30, report.Total.Attempts);
    }

    [Fact]
    public async Task A_port_without_a_listener_must_show_as_refused()
    {
        // Bound but not listening: the port stays ours and every connect is refused.
        using var closed = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        closed.Bind(new IPEndPoint(IPAddress.Loopback, 0));

        var churn = await RunAsync(Options((IPEndPoint)closed.LocalEndPoint!) with { Count = 20 });
        var keepAlive = await RunAsync(Options((IPEndPoint)closed.LocalEndPoint!, LoadMode.KeepAlive) with { Count = 20 });

        Assert.Equal(20, churn.Total.Refused);
        Assert.Equal(20, churn.Total.Attempts);
        Assert.Equal(20, keepAlive.Total.Refused);
        Assert.Equal(0, keepAlive.Total.Succeeded);
    }

    [Fact]
    public async Task A_server_that_never_replies_must_show_as_timed_out_within_the_timeout()
    {
        await using var server = TestServer.Start(async (socket, _, token) =>
        {
            var buffer = new byte[1024];
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, token) > 0)
            {
            }
        });
        var options = Options(server.EndPoint) with { Count = 5, Timeout = TimeSpan.FromMilliseconds(300) };

        var churn = await RunAsync(options);
        var keepAlive = await RunAsync(options with { Mode = LoadMode.KeepAlive, Connections = 1, Pipeline = 5 });

        Assert.Equal(5, churn.Total.TimedOut);
        Assert.Equal(5, keepAlive.Total.TimedOut);
        // Attempts start together, each is cut off at the timeout (plus the watchdog's period).
        Assert.True(churn.Elapsed < TimeSpan.FromSeconds(3), $"churn took {churn.Elapsed}");
        Assert.True(keepAlive.Elapsed < TimeSpan.FromSeconds(3), $"keep-alive took {keepAlive.Elapsed}");
        Assert.True(churn.Elapsed >= TimeSpan.FromMilliseconds(300), $"churn took only {churn.Elapsed}");
    }

    [Fact]
    public async Task A_server_that_closes_before_replying_must_show_as_closed()
    {
        await using var server = TestServer.Start(async (socket, _, token) =>
        {
            await TestServer.ForEachRequestAsync(socket, token, () =>
            {
                socket.Shutdown(SocketShutdown.Send);
                return Task.CompletedTask;
            });
        });

        var report = await RunAsync(Options(server.EndPoint) with { Count = 10 });

        Assert.Equal(10, report.Total.Closed);
    }

    [Theory]
    [InlineData("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\nOK", "status-not-200")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nNO", "body-mismatch")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nOK!", "body-mismatch")]
    [InlineData("SMTP ready\r\n\r\n", "malformed-status-line")]
    public async Task A_wrong_reply_must_show_as_wrong_reply_with_its_reason(string reply, string reason)
    {
        await using var server = TestServer.Http((_, _) => reply);

        var churn = await RunAsync(Options(server.EndPoint) with { Count = 10 });
        var keepAlive = await RunAsync(Options(server.EndPoint, LoadMode.KeepAlive) with { Count = 10, Connections = 2 });

        Assert.Equal(10, churn.Total.WrongReply);
        Assert.Equal(10, churn.WrongReplyReasons[reason]);
        Assert.Equal(10, keepAlive.Total.WrongReply);
        Assert.Equal(0, keepAlive.Total.Succeeded);
    }

    [Fact]
    public async Task Replies_must_be_counted_per_generation_header_value()
    {
        // Connections 1-10 get generation 1, later ones generation 2, as after a handler reload.
        await using var server = TestServer.Http((connection, _) =>
            TestServer.Ok(extraHeaders: $"X-Handler-Generation: {(connection <= 10 ? 1 : 2)}\r\n"));

        var report = await RunAsync(Options(server.EndPoint) with { Count = 25, MaxInFlight = 1, GenerationHeader = "x-handler-generation" });

        Assert.Equal(25, report.Total.Succeeded);
        Assert.Collection(report.Generations,
            g => Assert.Equal(("1", 10L, 10L), (g.Value, g.Replies, g.Connections)),
            g => Assert.Equal(("2", 15L, 15L), (g.Value, g.Replies, g.Connections)));
        Assert.Equal(0, report.RepliesWithoutGeneration);
        Assert.Equal(0, report.MixedGenerationConnections);
    }

    [Fact]
    public async Task A_keepalive_connection_whose_generation_changes_must_be_counted_as_mixed()
    {
        // The connection's replies switch from generation a to b after its fifth request.
        await using var server = TestServer.Http((_, request) =>
            TestServer.Ok(extraHeaders: $"X-Gen: {(request > 5 ? "b" : "a")}\r\n"));

        var report = await RunAsync(Options(server.EndPoint, LoadMode.KeepAlive) with { Count = 20, Connections = 1, GenerationHeader = "X-Gen" });

        Assert.Equal(20, report.Total.Succeeded);
        Assert.Equal(1, report.MixedGenerationConnections);
        Assert.Collection(report.Generations,
            g => Assert.Equal(("a", 5L, 1L), (g.Value, g.Replies, g.Connections)),
            g => Assert.Equal(("b", 15L, 0L), (g.Value, g.Replies, g.Connections)));
    }

    [Fact]
    public async Task Replies_without_the_generation_header_must_be_counted()
    {
        await using var server = TestServer.Http((_, _) => TestServer.Ok());

        var report = await RunAsync(Options(server.EndPoint) with { Count = 5, GenerationHeader = "X-Handler-Generation" });

        Assert.Equal(5, report.Total.Succeeded);
        Assert.Equal(5, report.RepliesWithoutGeneration);
        Assert.Empty(report.Generations);
    }

    [Theory]
    [InlineData(LoadMode.Churn, 1)]
    [InlineData(LoadMode.KeepAlive, 4)]
    public async Task Echo_replies_must_be_the_same_bytes(LoadMode mode, int pipeline)
    {
        await using var server = TestServer.Start(EchoAsync(corruptByte: -1));

        var report = await RunAsync(Options(server.EndPoint, mode) with
        {
            Protocol = LoadProtocol.Echo, PayloadBytes = 1000, Count = 200, Pipeline = pipeline,
        });

        Assert.Equal(200, report.Total.Succeeded);
    }

    [Fact]
    public async Task An_echo_server_that_changes_a_byte_must_show_as_wrong_reply()
    {
        await using var server = TestServer.Start(EchoAsync(corruptByte: 20));

        var report = await RunAsync(Options(server.EndPoint) with { Protocol = LoadProtocol.Echo, PayloadBytes = 64, Count = 10 });

        Assert.Equal(10, report.Total.WrongReply);
        Assert.Equal(10, report.WrongReplyReasons["echo-mismatch"]);
    }

    [Theory]
    [InlineData("10.0.0.1")]
    [InlineData("192.168.1.1")]
    [InlineData("0.0.0.0")]
    [InlineData("::")]
    [InlineData("2001:db8::1")]
    public async Task A_target_that_is_not_loopback_must_be_refused_before_any_connect(string address)
    {
        var options = Options(new IPEndPoint(IPAddress.Parse(address), 80)) with { Count = 1 };

        Assert.Contains(options.Validate(), e => e.Contains("not a loopback address", StringComparison.Ordinal));
        await Assert.ThrowsAsync<ArgumentException>(() => LoadRun.RunAsync(options));
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.1.2.3")]
    [InlineData("::1")]
    [InlineData("::ffff:127.0.0.1")]
    public void Loopback_targets_must_be_accepted(string address) =>
        Assert.Empty(Options(new IPEndPoint(IPAddress.Parse(address), 80)).Validate());

    [Fact]
    public async Task The_count_must_bound_the_attempts_exactly()
    {
        await using var server = TestServer.Http((_, _) => TestServer.Ok());

        var report = await RunAsync(Options(server.EndPoint, LoadMode.Both) with { Count = 777, Pipeline = 3 });

        Assert.Equal(777, report.Total.Attempts);
    }

    [Fact]
    public async Task The_duration_must_bound_the_run()
    {
        await using var server = TestServer.Http((_, _) => TestServer.Ok());

        var report = await RunAsync(Options(server.EndPoint, LoadMode.Both) with { Duration = TimeSpan.FromMilliseconds(700), Rate = 200 });

        // The stop timer has millisecond granularity.
        Assert.True(report.Elapsed >= TimeSpan.FromMilliseconds(690), $"ran only {report.Elapsed}");
        Assert.True(report.Elapsed < TimeSpan.FromSeconds(5), $"ran {report.Elapsed}");
        Assert.Equal(0, report.Total.Failed);
        // 200/s for 0.7 s, paced open-loop from the start: starts at 0, 5, ..., 695 ms and none later, even when the
        // dispatcher runs late (how many start in time depends on the machine's load, so only the bound is checked).
        long starts = report.Churn!.Attempts + report.SkippedStarts;
        Assert.True(starts <= 140, $"churn attempts {report.Churn.Attempts}, skipped {report.SkippedStarts}");
    }

    [Fact]
    public async Task Cancelling_must_end_the_run_early_with_a_report()
    {
        await using var server = TestServer.Http((_, _) => TestServer.Ok());
        using var cancel = new CancellationTokenSource();
        var seen = new TaskCompletionSource();

        var run = LoadRun.RunAsync(Options(server.EndPoint, LoadMode.KeepAlive) with { Duration = TimeSpan.FromMinutes(10) },
            snapshot => seen.TrySetResult(), cancel.Token);
        await seen.Task.WaitAsync(Bound);
        await cancel.CancelAsync();
        var report = await run.WaitAsync(Bound);

        Assert.True(report.Total.Succeeded > 0);
        Assert.Equal(0, report.Total.Failed);
        Assert.False(report.InProgress);
    }

    private static Func<Socket, int, CancellationToken, Task> EchoAsync(int corruptByte) => async (socket, _, token) =>
    {
        var buffer = new byte[4096];
        long offset = 0;
        int n;
        while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, token)) > 0)
        {
            if (corruptByte >= 0 && corruptByte >= offset && corruptByte < offset + n)
                buffer[corruptByte - offset] ^= 0xFF;
            offset += n;
            int sent = 0;
            while (sent < n)
                sent += await socket.SendAsync(buffer.AsMemory(sent, n - sent), SocketFlags.None, token);
        }
    };
}
