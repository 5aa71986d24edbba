using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using ShardRuntime.Runtime.Connections;
using ShardRuntime.Runtime.Handlers;
using Xunit.Abstractions;

namespace ShardRuntime.TestKit.Tests;

/// <summary>
/// The fake connection must not drift from the runtime: the same client script runs against a handler in a
/// <see cref="FakeConnectionContext"/> and against the same handler on a real node and a real loopback socket, and the
/// handler's trace (what each call was presented and consumed, the FIN, the close reason) and the bytes the client gets
/// must be the same. The real client waits for each chunk's delivery before it sends the next, so the kernel cannot
/// join two chunks into one read.
/// </summary>
public sealed class RuntimeParitySpecs : Akka.TestKit.Xunit2.TestKit
{
    private readonly ITestOutputHelper _output;

    public RuntimeParitySpecs(ITestOutputHelper output) : base(output: output) => _output = output;

    /// <summary>One connection's life as the client sees it.</summary>
    /// <param name="Handler">The handler under test (a new one per connection).</param>
    /// <param name="Chunks">What the client sends, one send per chunk.</param>
    /// <param name="EndInput">Whether the client shuts down its sending side after the chunks (else only once the server ended its output).</param>
    public sealed record Script(string Name, Func<IConnectionHandler> Handler, string[] Chunks, bool EndInput)
    {
        public override string ToString() => Name;
    }

    private static readonly Script[] Scripts =
    [
        new("echo, split", () => new EchoHandler(), ["hello ", "world\n"], EndInput: true),
        new("http-ok, pipelined across reads", () => BuiltInHandlers.Get("http-ok").Create(null!),
            ["GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTT", "P/1.1\r\nHost: a\r\n\r\n"], EndInput: true),
        new("http-ok, Connection: close", () => BuiltInHandlers.Get("http-ok").Create(null!),
            ["GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"], EndInput: false),
        new("http-ok, malformed", () => BuiltInHandlers.Get("http-ok").Create(null!), ["BAD\r\n\r\n"], EndInput: false),
        new("partial consumer, rest presented with new bytes", () => new OneLinePerCall(), ["a\nb\n", "c\n"], EndInput: true),
    ];

    public static TheoryData<string> ScriptNames => new(Scripts.Select(s => s.Name));

    [Theory]
    [MemberData(nameof(ScriptNames))]
    public async Task The_fake_must_drive_a_handler_as_the_runtime_does_on_a_real_socket(string name)
    {
        var script = Scripts.Single(s => s.Name == name);

        var (fakeTrace, fakeBytes) = RunOnFake(script);
        var (realTrace, realBytes) = await RunOnSocketAsync(script);
        _output.WriteLine(string.Join("\n", realTrace));

        Assert.Equal(realTrace, fakeTrace);
        Assert.Equal(WithoutDate(realBytes), WithoutDate(fakeBytes));
        Assert.Single(realTrace, line => line.StartsWith("closed ", StringComparison.Ordinal));
    }

    private static (IReadOnlyList<string> Trace, string Bytes) RunOnFake(Script script)
    {
        var handler = new TracingHandler(script.Handler());
        var connection = new FakeConnectionContext().Connect(handler);
        foreach (var chunk in script.Chunks)
            if (!connection.IsClosed) connection.Receive(chunk);
        var inputEnded = false;
        if (script.EndInput && !connection.IsClosed)
        {
            handler.Mark("fin");
            connection.EndInput();
            inputEnded = true;
        }
        // The client closes too once the server ended its output (a lingering close waits for that FIN).
        if (!connection.IsClosed && connection.OutputEnded && !inputEnded)
        {
            handler.Mark("fin");
            connection.EndInput();
        }
        return (handler.Trace, Encoding.Latin1.GetString(connection.Written));
    }

    private async Task<(IReadOnlyList<string> Trace, string Bytes)> RunOnSocketAsync(Script script)
    {
        var factory = new TracingFactory("traced", script.Handler);
        await using var node = await ShardRuntimeTestNode.StartAsync(this, o =>
        {
            o.AddHandler(factory);
            o.AddListener("parity", l => { l.EndPoint = "127.0.0.1:0"; l.Handler = "traced"; l.Shards = 1; });
        }, Clients.Timeout);
        using var client = await Clients.ConnectAsync(await node.GetEndPointAsync("parity"));
        await Eventually.UntilAsync(() => factory.Last?.Trace.Count >= 1, "the handler was never connected");
        var handler = factory.Last!;

        var calls = 1;
        foreach (var chunk in script.Chunks)
        {
            if (Closed(handler)) break;
            await client.SendAsync(Encoding.Latin1.GetBytes(chunk));
            calls++;
            await Eventually.UntilAsync(() => handler.Trace.Count >= calls, $"chunk {calls - 1} was never delivered");
        }
        if (script.EndInput)
        {
            if (!Closed(handler)) handler.Mark("fin");
            client.Shutdown(SocketShutdown.Send);
        }
        var bytes = await Clients.ReceiveToEndAsync(client);
        if (!script.EndInput && !Closed(handler))
        {
            handler.Mark("fin");
            client.Shutdown(SocketShutdown.Send);
        }
        await Eventually.UntilAsync(() => Closed(handler), "the connection never closed");
        return (handler.Trace, bytes);
    }

    private static bool Closed(TracingHandler handler) => handler.Trace.Any(l => l.StartsWith("closed ", StringComparison.Ordinal));

    /// <summary>http-ok's Date header is the time of the reply: the same reply a second later differs only there.</summary>
    private static string WithoutDate(string reply) => Regex.Replace(reply, "Date: [^\r]*\r\n", "Date: *\r\n");
}
