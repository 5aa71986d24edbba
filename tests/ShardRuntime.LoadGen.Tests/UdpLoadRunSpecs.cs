using System.Net;
using System.Net.Sockets;
using ShardRuntime.LoadGen.Reporting;
using ShardRuntime.LoadGen.Run;
using ShardRuntime.LoadGen.Tests.Support;

namespace ShardRuntime.LoadGen.Tests;

public sealed class UdpLoadRunSpecs
{
    /// <summary>Every run here is bounded by count or duration; this only keeps a broken run from hanging the suite.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private static LoadOptions Options(IPEndPoint target, LoadProtocol protocol = LoadProtocol.Echo) => new()
    {
        Target = target,
        Mode = LoadMode.Udp,
        Protocol = protocol,
        Rate = 2000,
        MaxInFlight = 64,
        Flows = 4,
        Duration = TimeSpan.FromSeconds(30),
        // Generous: on a loaded machine a reply on loopback may take long, and only a missing one may count as lost.
        Timeout = TimeSpan.FromSeconds(3),
    };

    private static Task<LoadReport> RunAsync(LoadOptions options) => LoadRun.RunAsync(options).WaitAsync(Bound);

    private static byte[] Flip(byte[] datagram, int index)
    {
        var copy = (byte[])datagram.Clone();
        copy[index] ^= 0xFF;
        return copy;
    }

    [Fact]
    public async Task Every_datagram_against_an_echo_loop_must_be_answered_from_every_flow()
    {
        await using var server = UdpTestServer.Echo();

        var report = await RunAsync(Options(server.EndPoint) with { Count = 500 });

        var d = report.Datagrams!;
        Assert.Equal((500L, 500L, 0L, 0L, 0L, 0L, 0L), (d.Sent, d.Answered, d.Lost, d.Wrong, d.Duplicated, d.Late, d.Unmatched));
        Assert.Equal(500, report.Udp!.Succeeded);
        Assert.Equal(500, report.Total.Latency.Count);
        Assert.True(report.Total.Latency.P50Us > 0 && report.Total.Latency.P50Us <= report.Total.Latency.MaxUs);
        Assert.Equal(500, server.Received);
        Assert.Equal(4, server.Sources);
        Assert.Equal(4, report.Udp.ConnectionsOpened);
        Assert.Equal(0, report.Problems);
    }

    [Fact]
    public async Task A_server_that_drops_every_tenth_datagram_must_show_exactly_that_many_lost()
    {
        await using var server = UdpTestServer.Start((n, datagram) => n % 10 == 0 ? [] : [datagram]);

        var report = await RunAsync(Options(server.EndPoint) with { Count = 200, Timeout = TimeSpan.FromSeconds(1) });

        Assert.Equal(200, server.Received);
        Assert.Equal(20, report.Datagrams!.Lost);
        Assert.Equal(20, report.Total.TimedOut);
        Assert.Equal(180, report.Datagrams.Answered);
        Assert.Equal(0, report.Datagrams.Late);
        Assert.Equal(200, report.Total.Attempts);
    }

    [Fact]
    public async Task A_server_that_answers_some_datagrams_twice_must_show_exactly_that_many_duplicates()
    {
        await using var server = UdpTestServer.Start((n, datagram) => n % 5 == 0 ? [datagram, datagram] : [datagram]);

        var report = await RunAsync(Options(server.EndPoint) with { Count = 200 });

        Assert.Equal(200, report.Datagrams!.Answered);
        Assert.Equal(40, report.Datagrams.Duplicated);
        Assert.Equal(0, report.Datagrams.Lost);
        Assert.Equal(0, report.Total.Failed);
        Assert.Equal(40, report.Problems);
    }

    [Fact]
    public async Task A_server_that_corrupts_some_replies_must_show_them_as_wrong()
    {
        // Byte 20 is in the pattern after the number and the send time; byte 12 is in the send time.
        await using var server = UdpTestServer.Start((n, datagram) =>
            n % 4 == 0 ? [Flip(datagram, 20)] : n % 4 == 1 ? [Flip(datagram, 12)] : [datagram]);

        var report = await RunAsync(Options(server.EndPoint) with { Count = 200, PayloadBytes = 64 });

        Assert.Equal(100, report.Datagrams!.Wrong);
        Assert.Equal(100, report.Total.WrongReply);
        Assert.Equal(100, report.WrongReplyReasons["echo-mismatch"]);
        Assert.Equal(100, report.Datagrams.Answered);
        Assert.Equal(0, report.Datagrams.Lost);
    }

    [Fact]
    public async Task A_reply_whose_number_was_never_sent_must_show_as_unmatched_and_its_query_as_lost()
    {
        // Byte 6 is in the number: the reply names a query this flow never sent.
        await using var server = UdpTestServer.Start((n, datagram) => n % 10 == 0 ? [Flip(datagram, 6)] : [datagram]);

        var report = await RunAsync(Options(server.EndPoint) with { Count = 100, Timeout = TimeSpan.FromSeconds(1) });

        Assert.Equal(10, report.Datagrams!.Unmatched);
        Assert.Equal(10, report.Datagrams.Lost);
        Assert.Equal(90, report.Datagrams.Answered);
    }

    [Fact]
    public async Task Dns_queries_answered_with_their_id_question_and_address_must_all_succeed()
    {
        await using var server = UdpTestServer.Start((_, query) => [DnsTestResponder.Answer(query, IPAddress.Loopback)]);

        var report = await RunAsync(Options(server.EndPoint, LoadProtocol.Dns) with
        {
            Count = 300, DnsName = "localhost.shardruntime.test.", DnsExpectAddress = IPAddress.Loopback,
        });

        Assert.Equal(300, report.Datagrams!.Answered);
        Assert.Equal(0, report.Problems);
        Assert.Equal(300, server.Received);
    }

    [Theory]
    [InlineData("10.9.9.9", 0, 0, "dns-answer-missing")]
    [InlineData("127.0.0.1", 3, 0, "dns-rcode-NXDOMAIN")]
    [InlineData("127.0.0.1", 0, 3, "dns-rcode-NOERROR")]
    public async Task A_dns_reply_with_another_answer_or_rcode_must_show_as_wrong_with_its_reason(string answer, int rcode, int expectRcode, string reason)
    {
        await using var server = UdpTestServer.Start((_, query) => [DnsTestResponder.Answer(query, IPAddress.Parse(answer), rcode)]);

        var report = await RunAsync(Options(server.EndPoint, LoadProtocol.Dns) with
        {
            Count = 20, DnsExpectAddress = IPAddress.Loopback, DnsExpectRcode = expectRcode,
        });

        Assert.Equal(20, report.Datagrams!.Wrong);
        Assert.Equal(20, report.WrongReplyReasons[reason]);
    }

    [Fact]
    public async Task A_dns_reply_to_another_question_must_show_as_wrong()
    {
        // The reply's QTYPE (the last two bytes before QCLASS) is changed from A to AAAA.
        await using var server = UdpTestServer.Start((_, query) =>
        {
            var reply = DnsTestResponder.Answer(query, IPAddress.Loopback, rcode: 3);
            reply[^3] = 28;
            return [reply];
        });

        var report = await RunAsync(Options(server.EndPoint, LoadProtocol.Dns) with { Count = 10, DnsExpectRcode = 3 });

        Assert.Equal(10, report.WrongReplyReasons["dns-question-mismatch"]);
    }

    [Fact]
    public async Task Dns_queries_past_the_16_bit_id_must_still_be_counted_exactly()
    {
        // One flow, 70000 queries: ids wrap after 65536; every thousandth is dropped and must be lost, nothing else.
        // (A small in-flight bound keeps the queues on both sides far below a socket's receive buffer.)
        await using var server = UdpTestServer.Start((n, query) => n % 1000 == 0 ? [] : [DnsTestResponder.Answer(query, IPAddress.Loopback)]);

        var report = await RunAsync(Options(server.EndPoint, LoadProtocol.Dns) with
        {
            Count = 70_000, Flows = 1, Rate = 100_000, MaxInFlight = 150, Duration = TimeSpan.FromSeconds(45),
        });

        var d = report.Datagrams!;
        Assert.True(d.Sent > DatagramTracker.Slots, $"only {d.Sent} queries were sent in the duration: ids did not wrap");
        Assert.Equal(d.Sent, server.Received);
        Assert.Equal(d.Sent / 1000, d.Lost);
        Assert.Equal(d.Sent - d.Sent / 1000, d.Answered);
        Assert.Equal((0L, 0L, 0L, 0L), (d.Wrong, d.Duplicated, d.Late, d.Unmatched));
    }

    [Fact]
    public async Task The_rate_must_pace_the_sends()
    {
        await using var server = UdpTestServer.Echo();

        var report = await RunAsync(Options(server.EndPoint) with { Rate = 200, Duration = TimeSpan.FromSeconds(1) });

        // 200/s for 1 s, paced from the start: sends at 0, 5, ..., 995 ms and none later. How many go out in time
        // depends on the machine's load, so the upper bound is exact and the lower one generous.
        Assert.InRange(report.Datagrams!.Sent, 50, 200);
        Assert.True(report.Elapsed >= TimeSpan.FromMilliseconds(950), $"ran only {report.Elapsed}");
        Assert.Equal(report.Datagrams.Sent, report.Datagrams.Answered);
    }

    [Fact]
    public async Task The_in_flight_bound_must_never_be_exceeded()
    {
        // Every reply is held 300 ms, so at 1000/s the bound of 8 is reached at once and later sends are skipped.
        await using var server = UdpTestServer.Start((_, datagram) => [datagram], delay: TimeSpan.FromMilliseconds(300));

        var report = await RunAsync(Options(server.EndPoint) with { Rate = 1000, MaxInFlight = 8, Duration = TimeSpan.FromSeconds(1) });

        Assert.InRange(server.MaxOutstanding, 1, 8);
        Assert.InRange(report.Datagrams!.MaxInFlight, 1, 8);
        Assert.True(report.SkippedStarts > 0, "no send was skipped: the bound was never reached");
        Assert.Equal(report.Datagrams.Sent, report.Datagrams.Answered);
    }

    [Fact]
    public async Task A_server_that_never_replies_must_show_every_query_lost_within_the_timeout()
    {
        // Bound, never read: the datagrams are accepted and never answered (no ICMP either).
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));

        var report = await RunAsync(Options((IPEndPoint)silent.LocalEndPoint!) with { Count = 5, Timeout = TimeSpan.FromMilliseconds(300) });

        Assert.Equal(5, report.Datagrams!.Lost);
        Assert.Equal(0, report.Datagrams.Answered);
        Assert.True(report.Elapsed < TimeSpan.FromSeconds(5), $"took {report.Elapsed}");
        Assert.True(report.Elapsed >= TimeSpan.FromMilliseconds(300), $"took only {report.Elapsed}");
    }

    [Theory]
    [InlineData(LoadProtocol.Http, "needs a TCP mode")]
    [InlineData(LoadProtocol.Echo, "--payload-bytes")]
    public void Udp_options_that_cannot_work_must_be_refused(LoadProtocol protocol, string message)
    {
        var options = Options(new IPEndPoint(IPAddress.Loopback, 53), protocol) with { PayloadBytes = 8 };

        Assert.Contains(options.Validate(), e => e.Contains(message, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("a..b", DnsQueryType.A, null, "--dns-name")]
    [InlineData("example.test", DnsQueryType.Aaaa, "127.0.0.1", "does not fit --dns-type AAAA")]
    [InlineData("example.test", DnsQueryType.Txt, "::1", "does not fit --dns-type TXT")]
    public void Dns_options_that_cannot_work_must_be_refused(string name, DnsQueryType type, string? address, string message)
    {
        var options = Options(new IPEndPoint(IPAddress.Loopback, 53), LoadProtocol.Dns) with
        {
            DnsName = name, DnsType = type, DnsExpectAddress = address is null ? null : IPAddress.Parse(address),
        };

        Assert.Contains(options.Validate(), e => e.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void Dns_must_be_refused_with_a_tcp_mode()
    {
        var options = Options(new IPEndPoint(IPAddress.Loopback, 53), LoadProtocol.Dns) with { Mode = LoadMode.Churn };

        Assert.Contains(options.Validate(), e => e.Contains("--protocol dns needs --mode udp", StringComparison.Ordinal));
    }
}
