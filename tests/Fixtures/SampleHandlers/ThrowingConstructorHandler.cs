using ShardRuntime.Runtime.Connections;

namespace SampleHandlers;

/// <summary>A handler type (no factory) whose constructor throws.</summary>
public sealed class ThrowingConstructorHandler : IConnectionHandler
{
    /// <summary>Always throws.</summary>
    public ThrowingConstructorHandler() => throw new InvalidOperationException("sample handler constructor refuses");

    /// <inheritdoc />
    public int OnReceived(IConnectionContext context, ReadOnlySpan<byte> data) => data.Length;
}
