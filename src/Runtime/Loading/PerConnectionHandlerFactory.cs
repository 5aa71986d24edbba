using System.Reflection;
using ShardRuntime.Runtime.Connections;

namespace ShardRuntime.Runtime.Loading;

/// <summary>The factory of a span handler type named directly in configuration: one new instance per connection.</summary>
internal sealed class PerConnectionHandlerFactory(Type handlerType, ConstructorInfo constructor)
    : HandlerTypeFactory(handlerType, constructor), IConnectionHandlerFactory
{
    /// <inheritdoc />
    public IConnectionHandler Create(IConnectionContext context) => (IConnectionHandler)NewInstance();
}
