using ShardRuntime.Runtime.Connections;

namespace SampleHandlers;

/// <summary>A factory whose constructor throws.</summary>
public sealed class ThrowingConstructorFactory : IConnectionHandlerFactory
{
    /// <summary>Always throws.</summary>
    public ThrowingConstructorFactory() => throw new InvalidOperationException("sample constructor refuses to start");

    /// <inheritdoc />
    public string Name => "throwing-constructor";

    /// <inheritdoc />
    public IConnectionHandler Create(IConnectionContext context) => new GreetingHandler();
}
