using ShardRuntime.Runtime.Connections;

namespace ShardRuntime.Runtime.Handlers;

/// <summary>Creates an <see cref="EchoHandler"/> per connection. Known as <c>echo</c>.</summary>
public sealed class EchoHandlerFactory : IConnectionHandlerFactory
{
    /// <summary>The name in configuration and in <c>status</c>.</summary>
    public const string HandlerName = "echo";

    /// <inheritdoc />
    public string Name => HandlerName;

    /// <inheritdoc />
    public IConnectionHandler Create(IConnectionContext context) => new EchoHandler();
}
