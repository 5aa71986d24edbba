using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using ShardRuntime.Runtime.Connections;

namespace ShardRuntime.TestKit.Tests;

public sealed class FakeStreamConnectionSpecs
{
    /// <summary>An async handler as a user writes one: reads lines from the pipe, answers each in capitals, ends with the input or a drain.</summary>
    private sealed class UpperLines : IStreamConnectionHandler
    {
        public async Task RunAsync(IStreamConnection connection)
        {
            var input = connection.Transport.Input;
            while (!connection.Draining.IsCancellationRequested)
            {
                ReadResult result;
                try
                {
                    result = await input.ReadAsync(connection.Draining);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                var buffer = result.Buffer;
                while (buffer.PositionOf((byte)'\n') is { } end)
                {
                    var line = Encoding.UTF8.GetString(buffer.Slice(0, end)).ToUpperInvariant();
                    if (line == "FAIL") throw new InvalidDataException("asked to fail");
                    await connection.Transport.Output.WriteAsync(Encoding.UTF8.GetBytes(line + "\n"));
                    buffer = buffer.Slice(buffer.GetPosition(1, end));
                }
                input.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted) break;
            }
            await connection.Transport.Output.WriteAsync("bye\n"u8.ToArray());
        }
    }

    [Fact]
    public async Task A_handler_that_returns_must_end_the_clients_stream_after_its_replies()
    {
        await using var connection = new FakeStreamConnection();
        var run = connection.Run(new UpperLines());

        await connection.SendAsync("hello\nwor");
        Assert.Equal("HELLO\n", Encoding.UTF8.GetString(await connection.ReceiveAsync(6).WaitAsync(Clients.Timeout)));
        await connection.SendAsync("ld\n");
        await connection.EndInputAsync();

        Assert.Equal("WORLD\nbye\n", await connection.ReceiveToEndAsync().WaitAsync(Clients.Timeout));
        await run.WaitAsync(Clients.Timeout);
        Assert.Null(connection.HandlerFailure);
        Assert.False(connection.Aborted.IsCancellationRequested);
    }

    [Fact]
    public async Task An_exception_must_abort_only_this_connection_and_fail_the_clients_read()
    {
        await using var connection = new FakeStreamConnection();
        var run = connection.Run(new UpperLines());

        await connection.SendAsync("fail\n");
        await run.WaitAsync(Clients.Timeout);

        Assert.IsType<InvalidDataException>(connection.HandlerFailure);
        Assert.True(connection.Aborted.IsCancellationRequested);
        var reset = await Assert.ThrowsAsync<IOException>(() => connection.ReceiveToEndAsync().WaitAsync(Clients.Timeout));
        Assert.Contains("asked to fail", reset.Message);
    }

    [Fact]
    public async Task A_drain_must_reach_the_handler_through_its_token()
    {
        await using var connection = new FakeStreamConnection();
        var run = connection.Run(new UpperLines());
        await connection.SendAsync("one\n");
        Assert.Equal("ONE\n", Encoding.UTF8.GetString(await connection.ReceiveAsync(4).WaitAsync(Clients.Timeout)));

        connection.Drain();

        Assert.Equal("bye\n", await connection.ReceiveToEndAsync().WaitAsync(Clients.Timeout));
        await run.WaitAsync(Clients.Timeout);
    }

    [Fact]
    public async Task The_stream_must_carry_the_same_bytes_as_the_pipe()
    {
        await using var connection = new FakeStreamConnection();
        var run = connection.Run(new StreamEcho());

        await connection.SendAsync("ping\n");
        await connection.EndInputAsync();

        Assert.Equal("ping\n", await connection.ReceiveToEndAsync().WaitAsync(Clients.Timeout));
        await run.WaitAsync(Clients.Timeout);
    }

    private sealed class StreamEcho : IStreamConnectionHandler
    {
        public Task RunAsync(IStreamConnection connection) => connection.Stream.CopyToAsync(connection.Stream);
    }
}
