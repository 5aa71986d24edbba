using System.Text;
using ShardRuntime.Runtime.Handlers;

namespace ShardRuntime.Runtime.Tests.Handlers;

public sealed class HttpOkHandlerTests
{
    private const string Get = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";

    private static HandlerDriver NewDriver(int maxRequestHeadSize = HttpOkHandler.DefaultMaxRequestHeadSize) =>
        new(new HttpOkHandler(maxRequestHeadSize));

    private static byte[] Bytes(string text) => Encoding.Latin1.GetBytes(text);

    private static void AssertOk(HttpResponse response, bool closes = false, bool hasBody = true)
    {
        Assert.Equal("HTTP/1.1 200 OK", response.StatusLine);
        Assert.Equal("2", response.Header("Content-Length"));
        Assert.Equal("text/plain", response.Header("Content-Type"));
        Assert.NotNull(response.Header("Date"));
        Assert.Equal(hasBody ? "OK" : "", response.Body);
        Assert.Equal(closes ? "close" : null, response.Header("Connection"));
    }

    private static void AssertRejected(HandlerDriver driver, int status)
    {
        var response = Assert.Single(HttpResponse.ReadAll(driver.Context.Written));
        Assert.Equal(status, response.Status);
        Assert.Equal("close", response.Header("Connection"));
        Assert.NotEqual("", response.Body);
        Assert.Equal(1, driver.Context.CloseCount);
        Assert.Equal(0, driver.Context.AbortCount);
    }

    [Fact]
    public void Http_ok_must_answer_a_single_GET_and_keep_the_connection_open()
    {
        var driver = NewDriver();

        driver.Receive(Get);

        AssertOk(Assert.Single(HttpResponse.ReadAll(driver.Context.Written)));
        Assert.Equal(0, driver.Unconsumed);
        Assert.False(driver.Context.IsClosing);
    }

    [Fact]
    public void Http_ok_must_write_the_exact_minimal_response()
    {
        var driver = NewDriver();

        driver.Receive(Get);

        var text = driver.Context.WrittenText;
        Assert.Matches(
            @"^HTTP/1\.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\nDate: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT\r\n\r\nOK$",
            text);
        Assert.Equal(1, driver.Context.WriteCount);
    }

    [Fact]
    public void Http_ok_must_answer_three_pipelined_requests_in_one_read_in_order()
    {
        var driver = NewDriver();

        driver.Receive(
            "GET /a HTTP/1.1\r\nHost: x\r\n\r\n" +
            "HEAD /b HTTP/1.1\r\nHost: x\r\n\r\n" +
            "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        var responses = HttpResponse.ReadAll(driver.Context.Written, headResponses: 1);
        Assert.Equal(3, responses.Count);
        AssertOk(responses[0]);
        AssertOk(responses[1], hasBody: false);
        AssertOk(responses[2], closes: true);
        Assert.Equal(1, driver.Context.CloseCount);
    }

    [Fact]
    public void Http_ok_must_close_a_draining_connection_after_its_next_response_and_say_so()
    {
        var driver = NewDriver();
        driver.Receive(Get);
        AssertOk(Assert.Single(HttpResponse.ReadAll(driver.Context.Written)));
        Assert.False(driver.Context.IsClosing);

        // The node drains the connection (a reload replaced its generation, or the node handed its sockets over):
        // the next response carries Connection: close, so a keep-alive client reconnects instead of racing a close.
        driver.Context.IsDraining = true;
        driver.Context.ClearWritten();
        driver.Receive(Get);

        AssertOk(Assert.Single(HttpResponse.ReadAll(driver.Context.Written)), closes: true);
        Assert.Equal(1, driver.Context.CloseCount);
    }

    [Theory]
    [InlineData("GET /index.html HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test\r\nAccept: */*\r\n\r\n")]
    [InlineData("\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")]
    [InlineData("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world")]
    [InlineData("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")]
    public void Http_ok_must_answer_a_request_split_at_any_byte_exactly_once(string request)
    {
        var bytes = Bytes(request + Get);
        for (var split = 1; split < bytes.Length; split++)
        {
            var driver = NewDriver();

            driver.Receive(bytes.AsSpan(0, split));
            driver.Receive(bytes.AsSpan(split));

            var responses = HttpResponse.ReadAll(driver.Context.Written);
            Assert.True(responses.Count == 2, $"split at {split}: {responses.Count} responses");
            Assert.All(responses, r => AssertOk(r));
            Assert.Equal(0, driver.Unconsumed);
            Assert.False(driver.Context.IsClosing);
        }
    }

    [Fact]
    public void Http_ok_must_answer_408_and_close_when_its_request_head_timed_out()
    {
        var driver = NewDriver();
        driver.Receive("GET / HTTP/1.1\r\nHost: te");

        driver.Handler.OnRequestTimedOut(driver.Context, driver.Unconsumed);

        Assert.StartsWith("HTTP/1.1 408 Request Timeout\r\n", driver.Context.WrittenText);
        Assert.Contains("\r\nConnection: close\r\n", driver.Context.WrittenText);
        Assert.EndsWith("\r\n\r\nRequest Timeout", driver.Context.WrittenText);
        Assert.Equal(1, driver.Context.CloseCount);
        // What the peer still sends is not answered.
        driver.Context.ClearWritten();
        driver.Receive("t\r\n\r\n" + Get);
        Assert.Equal("", driver.Context.WrittenText);
    }

    [Fact]
    public void Http_ok_must_answer_requests_arriving_one_byte_at_a_time()
    {
        var driver = NewDriver();
        var bytes = Bytes(
            "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc" +
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" +
            Get);

        foreach (var b in bytes)
        {
            driver.Receive([b]);
        }

        var responses = HttpResponse.ReadAll(driver.Context.Written);
        Assert.Equal(3, responses.Count);
        Assert.All(responses, r => AssertOk(r));
        Assert.Equal(0, driver.Unconsumed);
    }

    [Fact]
    public void Http_ok_must_respond_with_connection_close_and_close_when_asked_to()
    {
        var driver = NewDriver();

        driver.Receive("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + Get);

        AssertOk(Assert.Single(HttpResponse.ReadAll(driver.Context.Written)), closes: true);
        Assert.Equal(1, driver.Context.CloseCount);
        Assert.Equal(0, driver.Context.AbortCount);
    }

    [Theory]
    [InlineData("Connection: CLOSE")]
    [InlineData("connection: keep-alive, close")]
    [InlineData("CONNECTION:\tupgrade , close\t")]
    public void Http_ok_must_read_connection_options_case_insensitively(string field)
    {
        var driver = NewDriver();

        driver.Receive($"GET / HTTP/1.1\r\n{field}\r\n\r\n");

        AssertOk(Assert.Single(HttpResponse.ReadAll(driver.Context.Written)), closes: true);
        Assert.Equal(1, driver.Context.CloseCount);
    }

    [Fact]
    public void Http_ok_must_close_after_answering_HTTP_1_0()
    {
        var driver = NewDriver();

        driver.Receive("GET / HTTP/1.0\r\n\r\n" + Get);

        AssertOk(Assert.Single(HttpResponse.ReadAll(driver.Context.Written)), closes: true);
        Assert.Equal(1, driver.Context.CloseCount);
    }

    [Fact]
    public void Http_ok_must_keep_HTTP_1_0_open_when_it_asks_for_keep_alive()
    {
        var driver = NewDriver();

        driver.Receive("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");

        var responses = HttpResponse.ReadAll(driver.Context.Written);
        Assert.Equal(2, responses.Count);
        Assert.All(responses, r => Assert.Equal("keep-alive", r.Header("Connection")));
        Assert.False(driver.Context.IsClosing);
    }

    [Fact]
    public void Http_ok_must_skip_a_content_length_body_split_across_reads_and_answer_the_next_request()
    {
        var driver = NewDriver();
        var body = new string('b', 100_000);

        driver.Receive("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + body[..10]);
        Assert.Empty(driver.Context.Written.ToArray());
        Assert.Equal(0, driver.Unconsumed); // the body is consumed as it arrives, never buffered
        driver.Receive(body[10..60_000]);
        Assert.Equal(0, driver.Unconsumed);
        driver.Receive(body[60_000..] + Get[..5]);
        driver.Receive(Get[5..]);

        var responses = HttpResponse.ReadAll(driver.Context.Written);
        Assert.Equal(2, responses.Count);
        Assert.All(responses, r => AssertOk(r));
    }

    [Fact]
    public void Http_ok_must_accept_a_repeated_identical_content_length()
    {
        var driver = NewDriver();

        driver.Receive("POST / HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nhi" + Get);

        Assert.Equal(2, HttpResponse.ReadAll(driver.Context.Written).Count);
    }

    [Fact]
    public void Http_ok_must_skip_a_chunked_body_with_extensions_and_trailers()
    {
        var driver = NewDriver();

        driver.Receive("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n1A ; name=\"v\"\r\n");
        driver.Receive("abcdefghijklmnopqrstuvwxyz\r");
        driver.Receive("\n0\r\nTrailer-One: 1\r\n");
        Assert.Empty(driver.Context.Written.ToArray());
        driver.Receive("\r\n" + Get);

        var responses = HttpResponse.ReadAll(driver.Context.Written);
        Assert.Equal(2, responses.Count);
        Assert.All(responses, r => AssertOk(r));
        Assert.Equal(0, driver.Unconsumed);
    }

    [Fact]
    public void Http_ok_must_answer_expect_100_continue_before_the_body()
    {
        var driver = NewDriver();

        driver.Receive("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
        Assert.Equal("HTTP/1.1 100 Continue\r\n\r\n", driver.Context.WrittenText);
        driver.Receive("body");

        var responses = HttpResponse.ReadAll(driver.Context.Written);
        Assert.Equal(2, responses.Count);
        Assert.Equal(100, responses[0].Status);
        AssertOk(responses[1]);
    }

    [Fact]
    public void Http_ok_must_answer_HEAD_with_headers_only()
    {
        var driver = NewDriver();

        driver.Receive("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");

        var text = driver.Context.WrittenText;
        Assert.EndsWith("\r\n\r\n", text);
        Assert.Contains("Content-Length: 2\r\n", text);
        AssertOk(Assert.Single(HttpResponse.ReadAll(driver.Context.Written, headResponses: 0)), hasBody: false);
    }

    [Fact]
    public void Http_ok_with_another_body_must_answer_every_request_with_it_and_its_length()
    {
        var body = new byte[64 * 1024];
        for (var i = 0; i < body.Length; i++) body[i] = (byte)('a' + i % 26);
        var factory = new HttpOkHandlerFactory(HttpOkHandler.DefaultMaxRequestHeadSize, body, "http-64k");
        var driver = new HandlerDriver(factory.Create(new FakeConnectionContext()));

        driver.Receive(Get + "HEAD / HTTP/1.1\r\n\r\n" + Get);

        Assert.Equal("http-64k", factory.Name);
        Assert.Equal(body.Length, factory.BodyLength);
        var responses = HttpResponse.ReadAll(driver.Context.Written, headResponses: 1);
        Assert.Equal(3, responses.Count);
        foreach (var response in responses)
        {
            Assert.Equal(200, response.Status);
            Assert.Equal("65536", response.Header("Content-Length"));
        }
        Assert.Equal(Encoding.Latin1.GetString(body), responses[0].Body);
        Assert.Equal("", responses[1].Body);
        Assert.Equal(Encoding.Latin1.GetString(body), responses[2].Body);
    }

    [Theory]
    [InlineData("GET / HTTP/1.0\r\n\r\n", false, true)]
    [InlineData("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false, true)]
    [InlineData("GET / HTTP/1.1\r\n\r\n", true, false)] // draining: the client may already have sent the next request
    [InlineData("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true, false)]
    public void Http_ok_must_skip_the_linger_only_when_the_client_asked_for_the_close(string request, bool draining, bool withoutLinger)
    {
        var driver = NewDriver();
        driver.Context.IsDraining = draining;

        driver.Receive(request);

        Assert.Equal(1, driver.Context.CloseCount);
        Assert.Equal(withoutLinger ? 1 : 0, driver.Context.CloseWithoutLingerCount);
        Assert.Equal("close", Assert.Single(HttpResponse.ReadAll(driver.Context.Written)).Header("Connection"));
    }

    [Fact]
    public void Http_ok_factory_must_refuse_an_empty_name()
    {
        Assert.Throws<ArgumentException>(() => new HttpOkHandlerFactory(HttpOkHandler.DefaultMaxRequestHeadSize, "x"u8.ToArray(), " "));
    }

    [Theory]
    // request line
    [InlineData("GET/ HTTP/1.1\r\n\r\n")]
    [InlineData("GET  / HTTP/1.1\r\n\r\n")]
    [InlineData("GET / HTTP/1.1 \r\n\r\n")]
    [InlineData("GET /a b HTTP/1.1\r\n\r\n")]
    [InlineData("GET /\r\n\r\n")]
    [InlineData(" GET / HTTP/1.1\r\n\r\n")]
    [InlineData("\rGET / HTTP/1.1\r\n\r\n")]
    [InlineData("G(T / HTTP/1.1\r\n\r\n")]
    [InlineData("G\u00c9T / HTTP/1.1\r\n\r\n")]
    [InlineData("GET /\u0001 HTTP/1.1\r\n\r\n")]
    [InlineData("GET /\u00e9 HTTP/1.1\r\n\r\n")]
    // version
    [InlineData("GET / HTTP/2.0\r\n\r\n")]
    [InlineData("GET / HTTP/1.10\r\n\r\n")]
    [InlineData("GET / http/1.1\r\n\r\n")]
    [InlineData("GET / HTTP/1.x\r\n\r\n")]
    [InlineData("GET / HTTP/1\r\n\r\n")]
    // header fields
    [InlineData("GET / HTTP/1.1\r\nHost x\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost : x\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\n: x\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHo(st: x\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\u0001b\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\u0000b\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\u007fb\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n")]
    // line endings
    [InlineData("GET / HTTP/1.1\nHost: x\n\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: x\n\r\n")]
    [InlineData("\nGET / HTTP/1.1\r\n\r\n")]
    // framing
    [InlineData("POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n")]
    [InlineData("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")]
    // chunked bodies
    [InlineData("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")]
    [InlineData("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3 x\r\nabc\r\n0\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n")]
    [InlineData("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nBad trailer\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\n\r\n")]
    public void Http_ok_must_answer_a_malformed_request_with_400_and_close(string request)
    {
        var driver = NewDriver();

        driver.Receive(request + Get);

        AssertRejected(driver, 400);
        Assert.Equal("Bad Request", HttpResponse.ReadAll(driver.Context.Written)[0].Body);
    }

    [Fact]
    public void Http_ok_must_answer_an_oversized_head_that_never_completes_with_431_and_close()
    {
        var driver = NewDriver();

        driver.Receive("GET / HTTP/1.1\r\nX-Big: ");
        for (var i = 0; i < 100 && !driver.Context.IsClosing; i++)
        {
            driver.Receive(new string('a', 100));
        }

        AssertRejected(driver, 431);
        Assert.True(driver.Context.CloseCount == 1);
    }

    [Theory]
    [InlineData(0, 200)]
    [InlineData(1, 431)]
    public void Http_ok_must_allow_a_head_of_exactly_the_limit_and_no_more(int extra, int status)
    {
        const int limit = 128;
        var prefix = "GET / HTTP/1.1\r\nX: ";
        var head = prefix + new string('a', limit - prefix.Length - 4 + extra) + "\r\n\r\n";
        Assert.Equal(limit + extra, head.Length);
        var driver = NewDriver(limit);

        driver.Receive(head);

        Assert.Equal(status, Assert.Single(HttpResponse.ReadAll(driver.Context.Written)).Status);
    }

    [Fact]
    public void Http_ok_must_answer_an_oversized_trailer_section_with_431()
    {
        var driver = NewDriver(128);

        driver.Receive("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n");
        for (var i = 0; i < 20 && !driver.Context.IsClosing; i++)
        {
            driver.Receive("X-Trailer: 0123456789\r\n");
        }

        AssertRejected(driver, 431);
    }

    [Fact]
    public void Http_ok_must_reject_a_limit_that_is_too_small()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new HttpOkHandler(HttpOkHandler.MinRequestHeadSize - 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HttpOkHandlerFactory(0));
    }

    [Fact]
    public void Http_ok_must_close_on_half_close_after_answering_complete_requests()
    {
        var driver = NewDriver();

        driver.Receive(Get + Get + "GET / HTT");
        driver.EndInput();

        var responses = HttpResponse.ReadAll(driver.Context.Written);
        Assert.Equal(2, responses.Count);
        Assert.All(responses, r => AssertOk(r));
        Assert.Equal(1, driver.Context.CloseCount);
        Assert.Equal(0, driver.Context.AbortCount);
    }

    [Fact]
    public void Http_ok_must_ignore_bytes_after_it_closed()
    {
        var handler = new HttpOkHandler();
        var context = new FakeConnectionContext();
        var close = Bytes("GET / HTTP/1.0\r\n\r\n");
        var more = Bytes(Get);

        Assert.Equal(close.Length, handler.OnReceived(context, close));
        Assert.Equal(more.Length, handler.OnReceived(context, more));

        Assert.Single(HttpResponse.ReadAll(context.Written));
    }

    [Fact]
    public void Http_ok_must_not_allocate_per_request_in_steady_state()
    {
        var handler = new HttpOkHandler();
        var context = new FakeConnectionContext(4 << 20);
        var batch = Bytes(
            "GET /plaintext HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: bench\r\nAccept: text/plain\r\nConnection: keep-alive\r\n\r\n" +
            "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
            "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n0\r\nT: 1\r\n\r\n");
        var partial = batch[..40];

        void RunBatches(int count)
        {
            for (var i = 0; i < count; i++)
            {
                if (handler.OnReceived(context, partial) != 0 || handler.OnReceived(context, batch) != batch.Length)
                {
                    throw new InvalidOperationException("unexpected consumption");
                }

                if (context.Written.Length > (3 << 20))
                {
                    context.ClearWritten();
                }
            }
        }

        RunBatches(1_000); // warm up: JIT, the per-thread Date cache
        AssertSteadyStateAllocatesNothing(() => RunBatches(3_334), "10,002 requests");
        Assert.False(context.IsClosing);
    }

    [Fact]
    public void Http_ok_with_a_body_beyond_its_stack_buffer_must_not_allocate_per_request_in_steady_state()
    {
        // A 64 KiB body does not fit the response's stack buffer: it goes out in a second write, from the factory's copy.
        var body = new byte[64 * 1024];
        Array.Fill(body, (byte)'x');
        var context = new FakeConnectionContext(4 << 20);
        var handler = new HttpOkHandlerFactory(HttpOkHandler.DefaultMaxRequestHeadSize, body, "http-64k").Create(context);
        var batch = Bytes(Get + "HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n" + Get);

        void RunBatches(int count)
        {
            for (var i = 0; i < count; i++)
            {
                if (handler.OnReceived(context, batch) != batch.Length)
                {
                    throw new InvalidOperationException("unexpected consumption");
                }

                if (context.Written.Length > (3 << 20))
                {
                    context.ClearWritten();
                }
            }
        }

        RunBatches(100); // warm up: JIT, the per-thread Date cache
        context.ClearWritten();
        var writesBefore = context.WriteCount;
        RunBatches(1);
        Assert.Equal(5, context.WriteCount - writesBefore); // two GETs answered in two writes each, the HEAD in one
        Assert.True(context.Written.Length > 2 * body.Length);
        AssertSteadyStateAllocatesNothing(() => RunBatches(1_000), "3,000 requests");
        Assert.False(context.IsClosing);
    }

    /// <summary>
    /// Runs <paramref name="window"/> three times and requires that this thread allocated nothing in at least one run.
    /// An allocation per request (or per few requests) shows in every run; what the runtime does once on the thread
    /// while a test runs does not (one run at 3,000 requests once saw 7,224 bytes under a loaded CI, the handler's
    /// code having no allocation in it), and must not fail the test.
    /// </summary>
    private static void AssertSteadyStateAllocatesNothing(Action window, string what)
    {
        var allocated = new long[3];
        for (var i = 0; i < allocated.Length; i++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            window();
            allocated[i] = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        Assert.True(allocated.Min() == 0, $"bytes allocated in each of three runs of {what}: {string.Join(", ", allocated)}");
    }
}
