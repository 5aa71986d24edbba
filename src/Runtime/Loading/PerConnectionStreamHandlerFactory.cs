using System.Reflection;
using ShardRuntime.Runtime.Connections;

namespace ShardRuntime.Runtime.Loading;

/// <summary>The factory of an async (stream) handler type named directly in configuration: one new instance per connection.</summary>
internal sealed class PerConnectionStreamHandlerFactory(Type handlerType, ConstructorInfo constructor)
    : HandlerTypeFactory(handlerType, constructor), IStreamConnectionHandlerFactory
{
    /// <inheritdoc />
    public IStreamConnectionHandler Create(IStreamConnection connection) => (IStreamConnectionHandler)NewInstance();
}
