using System.Diagnostics.CodeAnalysis;
using ShardRuntime.Runtime.Connections;

namespace ShardRuntime.Runtime.Handlers;

/// <summary>
/// The handlers that ship with ShardRuntime, by the name configuration uses for them: the span style's <c>http-ok</c>,
/// <c>echo</c> (<see cref="Names"/>) and the async style's <c>echo-async</c> (<see cref="StreamNames"/>).
/// </summary>
public static class BuiltInHandlers
{
    private static readonly Dictionary<string, IConnectionHandlerFactory> Factories = Create(
        new HttpOkHandlerFactory(),
        new EchoHandlerFactory());

    private static readonly string[] SortedNames = Factories.Keys.Order(StringComparer.Ordinal).ToArray();

    private static readonly Dictionary<string, IStreamConnectionHandlerFactory> StreamFactories =
        new(StringComparer.Ordinal) { [EchoAsyncHandlerFactory.HandlerName] = new EchoAsyncHandlerFactory() };

    /// <summary>The names of the built-in handlers of the async style (<see cref="IStreamConnectionHandler"/>), in ordinal order.</summary>
    public static IReadOnlyCollection<string> StreamNames { get; } = Array.AsReadOnly(StreamFactories.Keys.Order(StringComparer.Ordinal).ToArray());

    /// <summary>Finds a built-in handler of the async style by its exact (case-sensitive) name.</summary>
    public static bool TryGetStream(string name, [MaybeNullWhen(false)] out IStreamConnectionHandlerFactory factory)
    {
        ArgumentNullException.ThrowIfNull(name);
        return StreamFactories.TryGetValue(name, out factory);
    }

    /// <summary>The names of the built-in handlers, in ordinal order.</summary>
    public static IReadOnlyCollection<string> Names { get; } = Array.AsReadOnly(SortedNames);

    /// <summary>Finds a built-in handler by its exact (case-sensitive) name.</summary>
    /// <returns>True with the shared, thread-safe factory; false when no built-in handler has that name.</returns>
    public static bool TryGet(string name, [MaybeNullWhen(false)] out IConnectionHandlerFactory factory)
    {
        ArgumentNullException.ThrowIfNull(name);
        return Factories.TryGetValue(name, out factory);
    }

    /// <summary>The factory of the built-in handler named <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">No built-in handler has that name; the message lists the known ones.</exception>
    public static IConnectionHandlerFactory Get(string name)
    {
        if (TryGet(name, out var factory))
        {
            return factory;
        }

        throw new ArgumentException(
            $"Unknown built-in handler '{name}'. Known handlers: {string.Join(", ", SortedNames)}.",
            nameof(name));
    }

    private static Dictionary<string, IConnectionHandlerFactory> Create(params IConnectionHandlerFactory[] factories)
    {
        var byName = new Dictionary<string, IConnectionHandlerFactory>(StringComparer.Ordinal);
        foreach (var factory in factories)
        {
            byName.Add(factory.Name, factory);
        }

        return byName;
    }
}
