using ShardRuntime.Runtime.Connections;

namespace ShardRuntime.Runtime.Handlers;

/// <summary>Creates an <see cref="EchoAsyncHandler"/> per connection. Known as <c>echo-async</c>.</summary>
public sealed class EchoAsyncHandlerFactory : IStreamConnectionHandlerFactory
{
    /// <summary>The name in configuration and in <c>status</c>.</summary>
    public const string HandlerName = "echo-async";

    /// <inheritdoc />
    public string Name => HandlerName;

    /// <inheritdoc />
    public IStreamConnectionHandler Create(IStreamConnection connection) => new EchoAsyncHandler();
}
