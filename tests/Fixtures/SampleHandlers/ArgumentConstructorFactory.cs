using ShardRuntime.Runtime.Connections;

namespace SampleHandlers;

/// <summary>A factory without a public parameterless constructor.</summary>
public sealed class ArgumentConstructorFactory : IConnectionHandlerFactory
{
    private readonly string _name;

    /// <summary>Needs a name the loader cannot supply.</summary>
    public ArgumentConstructorFactory(string name) => _name = name;

    /// <inheritdoc />
    public string Name => _name;

    /// <inheritdoc />
    public IConnectionHandler Create(IConnectionContext context) => new GreetingHandler();
}
