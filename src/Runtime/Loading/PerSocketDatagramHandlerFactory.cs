using System.Reflection;
using ShardRuntime.Runtime.Datagrams;

namespace ShardRuntime.Runtime.Loading;

/// <summary>
/// The factory of a datagram handler type named directly in configuration: one new instance per shard socket through
/// the type's public parameterless constructor (whose exceptions come through unwrapped). Named after the type.
/// </summary>
internal sealed class PerSocketDatagramHandlerFactory : IDatagramHandlerFactory
{
    private readonly ConstructorInvoker _constructor;

    public PerSocketDatagramHandlerFactory(Type handlerType, ConstructorInfo constructor)
    {
        _constructor = ConstructorInvoker.Create(constructor);
        Name = handlerType.FullName ?? handlerType.Name;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public IDatagramHandler Create(IDatagramContext context) => (IDatagramHandler)_constructor.Invoke();
}
