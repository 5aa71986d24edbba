using System.Reflection;
using ShardRuntime.Runtime.Connections;

namespace ShardRuntime.Runtime.Loading;

/// <summary>
/// The factory of an async (stream) handler type named directly in configuration: one new instance per connection through the
/// type's public parameterless constructor (whose exceptions come through unwrapped). Named after the type.
/// </summary>
internal sealed class PerConnectionStreamHandlerFactory : IStreamConnectionHandlerFactory
{
    private readonly ConstructorInvoker _constructor;

    public PerConnectionStreamHandlerFactory(Type handlerType, ConstructorInfo constructor)
    {
        _constructor = ConstructorInvoker.Create(constructor);
        Name = handlerType.FullName ?? handlerType.Name;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public IStreamConnectionHandler Create(IStreamConnection connection) => (IStreamConnectionHandler)_constructor.Invoke();
}
