using System.Reflection;
using ShardRuntime.Runtime.Datagrams;

namespace ShardRuntime.Runtime.Loading;

/// <summary>The factory of a datagram handler type named directly in configuration: one new instance per shard socket.</summary>
internal sealed class PerSocketDatagramHandlerFactory(Type handlerType, ConstructorInfo constructor)
    : HandlerTypeFactory(handlerType, constructor), IDatagramHandlerFactory
{
    /// <inheritdoc />
    public IDatagramHandler Create(IDatagramContext context) => (IDatagramHandler)NewInstance();
}
