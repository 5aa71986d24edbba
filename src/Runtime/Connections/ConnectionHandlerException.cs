namespace ShardRuntime.Runtime.Connections;

/// <summary>
/// A span handler served by <see cref="SpanHandlerAdapter"/> threw: the adapter called <c>OnClosed</c> and rethrows the
/// handler's exception wrapped in this, so the runtime aborts the connection and logs and counts the failure.
/// </summary>
public sealed class ConnectionHandlerException : Exception
{
    /// <summary>The handler <paramref name="handler"/> (its type name, when known) threw <paramref name="inner"/>.</summary>
    public ConnectionHandlerException(string? handler, Exception inner)
        : base($"handler {handler ?? "(not made)"} failed: {inner.Message}", inner)
    {
    }
}
