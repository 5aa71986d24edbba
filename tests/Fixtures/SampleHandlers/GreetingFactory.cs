using ShardRuntime.Runtime.Connections;
using ShardRuntime.Runtime.Loading;

namespace SampleHandlers;

/// <summary>
/// Greets every connection with "hello v1!" (or v2) and then echoes. Counts its initialisation and its disposal in
/// <see cref="AppContext"/> data, which host and handler share, so tests can see both from outside.
/// </summary>
public sealed class GreetingFactory : IInitializableHandlerFactory, IDisposable
{
    /// <summary>AppContext key counting calls of <see cref="Initialize"/>.</summary>
    public const string InitializedKey = "SampleHandlers.GreetingFactory.Initialized";

    /// <summary>AppContext key counting calls of <see cref="Dispose"/>.</summary>
    public const string DisposedKey = "SampleHandlers.GreetingFactory.Disposed";

    private string _greeting = "";

    /// <inheritdoc />
    public string Name => "greeting";

    /// <inheritdoc />
    public void Initialize()
    {
        _greeting = GreetingHandler.Greeting;
        Count(InitializedKey);
    }

    /// <inheritdoc />
    public IConnectionHandler Create(IConnectionContext context) => new GreetingHandler(_greeting);

    /// <inheritdoc />
    public void Dispose() => Count(DisposedKey);

    private static void Count(string key)
    {
        lock (typeof(AppContext))
        {
            AppContext.SetData(key, (AppContext.GetData(key) as int? ?? 0) + 1);
        }
    }
}
