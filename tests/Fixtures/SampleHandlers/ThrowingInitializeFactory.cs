using ShardRuntime.Runtime.Connections;
using ShardRuntime.Runtime.Loading;

namespace SampleHandlers;

/// <summary>A factory that constructs fine but whose initialisation throws.</summary>
public sealed class ThrowingInitializeFactory : IInitializableHandlerFactory
{
    /// <inheritdoc />
    public string Name => "throwing-initialize";

    /// <inheritdoc />
    public void Initialize() => throw new InvalidOperationException("sample initialisation found no configuration");

    /// <inheritdoc />
    public IConnectionHandler Create(IConnectionContext context) => new GreetingHandler();
}
