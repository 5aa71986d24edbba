using System.Reflection;

namespace ShardRuntime.Runtime.Loading;

/// <summary>
/// What the factories of a handler type named directly in configuration share: a new instance per call through the
/// type's public parameterless constructor (whose exceptions come through unwrapped), and the type's name as the
/// handler's. One subclass per contract (span, async, datagram) casts the instance.
/// </summary>
internal abstract class HandlerTypeFactory
{
    private readonly ConstructorInvoker _constructor;

    protected HandlerTypeFactory(Type handlerType, ConstructorInfo constructor)
    {
        _constructor = ConstructorInvoker.Create(constructor);
        Name = handlerType.FullName ?? handlerType.Name;
    }

    /// <summary>The handler type's full name.</summary>
    public string Name { get; }

    /// <summary>A new instance of the handler type.</summary>
    protected object NewInstance() => _constructor.Invoke();
}
