using System.Text;
using Akka.Actor;
using ShardRuntime.Actors.Connections;
using ShardRuntime.Runtime.Connections;
using ShardRuntime.Runtime.Handlers;
using Xunit.Abstractions;

namespace ShardRuntime.TestKit.Tests;

/// <summary>The fake connection drives a handler by the runtime's rules (RuntimeParitySpecs holds it against a real socket).</summary>
public sealed class FakeConnectionContextSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(output: output)
{
    [Fact]
    public void Unconsumed_bytes_must_be_presented_again_followed_by_new_ones_and_only_when_new_ones_come()
    {
        var handler = new TracingHandler(new OneLinePerCall());
        var connection = new FakeConnectionContext().Connect(handler);

        connection.Receive("a\nb\n");
        Assert.Equal("A\n", connection.TakeWrittenText());
        Assert.Equal("b\n", Encoding.UTF8.GetString(connection.Unconsumed));
        connection.Receive("c");
        Assert.Equal("B\n", connection.TakeWrittenText());

        Assert.Equal(["connected", "received 'a\\nb\\n' -> 2", "received 'b\\nc' -> 2"], handler.Trace);
    }

    [Fact]
    public void Writes_must_be_sent_after_the_callback_and_dropped_by_an_abort_in_it()
    {
        var handler = new ScriptedHandler((context, data) =>
        {
            context.Write(data);
            if (data.SequenceEqual("abort"u8)) context.Abort();
            return data.Length;
        });
        var connection = new FakeConnectionContext().Connect(handler);

        connection.Receive("kept");
        connection.Receive("abort");

        Assert.Equal("kept", connection.WrittenText);
        Assert.True(connection.IsClosed);
        Assert.Equal(ConnectionCloseReason.Aborted, connection.CloseReason);
        Assert.Equal([ConnectionCloseReason.Aborted], handler.Closed);
    }

    [Fact]
    public void A_graceful_close_must_end_the_output_discard_later_input_and_wait_for_the_peers_FIN_before_OnClosed()
    {
        var handler = new ScriptedHandler((context, data) =>
        {
            context.Write("bye"u8);
            context.Close();
            context.Write("ignored after close"u8);
            return data.Length;
        });
        var connection = new FakeConnectionContext().Connect(handler);

        connection.Receive("quit");
        Assert.True(connection.OutputEnded);
        Assert.False(connection.IsClosed);
        Assert.Empty(handler.Closed);
        connection.Receive("more, discarded");
        Assert.Equal(1, handler.Calls);
        connection.EndInput();

        Assert.Equal("bye", connection.WrittenText);
        Assert.Equal([ConnectionCloseReason.Closed], handler.Closed);
        Assert.Throws<InvalidOperationException>(() => connection.Receive("after the end"));
    }

    [Fact]
    public void CloseWithoutLinger_must_end_the_connection_once_its_writes_are_sent()
    {
        var handler = new ScriptedHandler((context, data) =>
        {
            context.Write("last"u8);
            context.CloseWithoutLinger();
            return data.Length;
        });
        var connection = new FakeConnectionContext().Connect(handler);

        connection.Receive("x");

        Assert.True(connection.IsClosed);
        Assert.True(connection.ClosedWithoutLinger);
        Assert.Equal("last", connection.WrittenText);
        Assert.Equal([ConnectionCloseReason.Closed], handler.Closed);
        Assert.Null(connection.RemoteEndPoint);
    }

    [Fact]
    public void A_handler_that_throws_must_end_only_its_connection_with_HandlerFailed_and_OnClosed_once()
    {
        var handler = new ScriptedHandler((context, _) =>
        {
            context.Write("never sent"u8);
            throw new FormatException("bad frame");
        });
        var connection = new FakeConnectionContext().Connect(handler);

        connection.Receive("x");
        connection.Tell("ignored: the connection is gone");

        Assert.Equal(ConnectionCloseReason.HandlerFailed, connection.CloseReason);
        Assert.IsType<FormatException>(connection.HandlerFailure);
        Assert.Equal("", connection.WrittenText);
        Assert.Equal([ConnectionCloseReason.HandlerFailed], handler.Closed);
    }

    [Fact]
    public void A_handler_that_claims_more_bytes_than_it_was_given_must_fail_as_in_the_runtime()
    {
        var connection = new FakeConnectionContext().Connect(new ScriptedHandler((_, data) => data.Length + 1));

        connection.Receive("x");

        Assert.Equal(ConnectionCloseReason.HandlerFailed, connection.CloseReason);
        Assert.Contains("returned 2 consumed bytes of 1 received", connection.HandlerFailure!.Message);
    }

    [Fact]
    public void The_peers_FIN_must_tell_the_handler_how_much_it_left_and_the_default_closes()
    {
        var handler = new TracingHandler(new OneLinePerCall());
        var connection = new FakeConnectionContext().Connect(handler);

        connection.Receive("a\npartial");
        connection.EndInput();

        Assert.Equal(["connected", "received 'a\\npartial' -> 2", "input-ended 7", "closed Closed"], handler.Trace);
        Assert.True(connection.OutputEnded);
    }

    [Fact]
    public void A_request_timeout_must_let_the_handler_answer_then_close_with_RequestTimeout()
    {
        var connection = new FakeConnectionContext().Connect(BuiltInHandlers.Get("http-ok"));
        Assert.Throws<InvalidOperationException>(() => connection.TimeOutRequest()); // nothing incomplete: the runtime would not

        connection.Receive("GET / HTTP/1.1\r\nHo");
        connection.TimeOutRequest();
        connection.EndInput();

        Assert.StartsWith("HTTP/1.1 408 Request Timeout\r\n", connection.WrittenText);
        Assert.Equal(ConnectionCloseReason.RequestTimeout, connection.CloseReason);
    }

    [Fact]
    public void Leaving_more_than_max_receive_bytes_unconsumed_must_end_with_ReceiveLimitExceeded()
    {
        var handler = new ScriptedHandler((_, _) => 0);
        var connection = new FakeConnectionContext { MaxReceiveBytes = 8 }.Connect(handler);

        connection.Receive("12345");
        Assert.False(connection.IsClosed);
        connection.Receive("6789");

        Assert.Equal(ConnectionCloseReason.ReceiveLimitExceeded, connection.CloseReason);
        Assert.Equal(2, handler.Calls); // 5 bytes, then 8: the ninth does not fit
    }

    [Fact]
    public void The_default_receive_limit_must_be_the_one_of_reference_conf()
    {
        Assert.Equal(64 * 1024, new FakeConnectionContext().MaxReceiveBytes);
    }

    [Fact]
    public void Messages_features_generation_and_draining_must_reach_the_handler()
    {
        var probe = CreateTestProbe();
        var handler = new ScriptedHandler((_, data) => data.Length)
        {
            OnMessageCalled = (context, message) =>
            {
                context.Write(Encoding.UTF8.GetBytes($"{message} gen {context.HandlerGeneration} draining {context.IsDraining}"));
                context.GetFeature<IConnectionActorFeature>()!.Self.Tell("from the handler");
            },
        };
        var connection = new FakeConnectionContext { HandlerGeneration = 3 }.SetActor(probe.Ref, Sys).Connect(handler);
        connection.IsDraining = true;

        connection.Tell("hi");

        Assert.Equal("hi gen 3 draining True", connection.WrittenText);
        probe.ExpectMsg("from the handler");
        Assert.Null(connection.GetFeature<string>());
    }

    [Fact]
    public void A_fake_must_be_connected_once_and_before_use()
    {
        var connection = new FakeConnectionContext();
        Assert.Throws<InvalidOperationException>(() => connection.Receive("x"));
        connection.Connect(new EchoHandler());
        Assert.Throws<InvalidOperationException>(() => connection.Connect(new EchoHandler()));
    }
}
