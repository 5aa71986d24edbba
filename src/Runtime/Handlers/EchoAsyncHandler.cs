using ShardRuntime.Runtime.Connections;

namespace ShardRuntime.Runtime.Handlers;

/// <summary>
/// <c>echo</c> in the async style, written with the pipe API: every byte read from
/// <see cref="IStreamConnection.Transport"/> is written back and flushed (a peer that does not read makes the flush wait:
/// nothing more is read meanwhile). Returns when the peer half-closes, which closes the connection gracefully after the
/// echoes; ends early when the node drains it (<see cref="IStreamConnection.Draining"/>), between two reads. For tests
/// and for measuring the async style against the span one.
/// </summary>
public sealed class EchoAsyncHandler : IStreamConnectionHandler
{
    /// <inheritdoc />
    public async Task RunAsync(IStreamConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var input = connection.Transport.Input;
        var output = connection.Transport.Output;
        using var draining = connection.Draining.UnsafeRegister(static i => ((System.IO.Pipelines.PipeReader)i!).CancelPendingRead(), input);
        while (true)
        {
            var result = await input.ReadAsync().ConfigureAwait(false);
            var buffer = result.Buffer;
            foreach (var segment in buffer) await output.WriteAsync(segment).ConfigureAwait(false);
            input.AdvanceTo(buffer.End);
            if (result.IsCompleted || result.IsCanceled) return;
        }
    }
}
