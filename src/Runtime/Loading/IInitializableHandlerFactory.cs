using ShardRuntime.Runtime.Connections;

namespace ShardRuntime.Runtime.Loading;

/// <summary>
/// A handler factory from a user assembly that wants a start-up step before it serves. The loader calls
/// <see cref="Initialize"/> once, right after constructing the factory and before the generation can take a
/// connection; an exception refuses the load (a reload then keeps the running generation). A factory that also
/// implements <see cref="IDisposable"/> is disposed when its generation unloads, or when its load is refused after
/// it was constructed.
/// </summary>
public interface IInitializableHandlerFactory : IConnectionHandlerFactory
{
    /// <summary>Prepares the factory (read settings, warm caches, ...). Throw to refuse the load; the message is shown.</summary>
    void Initialize();
}
