using ShardRuntime.Runtime.Connections;

namespace ShardRuntime.Runtime.Handlers;

/// <summary>
/// Writes back every byte it receives, in order, and consumes everything at once. When the peer half-closes,
/// it closes gracefully: queued echoes are flushed before the sending side is shut down.
/// </summary>
public sealed class EchoHandler : IConnectionHandler
{
    /// <inheritdoc />
    public int OnReceived(IConnectionContext context, ReadOnlySpan<byte> data)
    {
        if (!data.IsEmpty)
        {
            context.Write(data);
        }

        return data.Length;
    }

    /// <inheritdoc />
    public void OnInputEnded(IConnectionContext context, int unconsumed) => context.Close();
}
