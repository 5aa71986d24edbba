using System.Collections.Concurrent;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Connections;
using ShardRuntime.Runtime.Handlers;

namespace ShardRuntime.Actors.Handlers;

/// <summary>
/// The handler factories a node can serve, by name: the built-ins (<c>http-ok</c>, <c>echo</c>) and any that user
/// code adds through the hosting options. Thread-safe.
/// </summary>
public sealed class HandlerCatalog
{
    private readonly ConcurrentDictionary<string, IConnectionHandlerFactory> _factories = new(StringComparer.Ordinal);

    /// <summary>A catalog that knows the built-in handlers.</summary>
    public static HandlerCatalog WithBuiltIns()
    {
        var catalog = new HandlerCatalog();
        foreach (var name in BuiltInHandlers.Names)
            catalog.Add(BuiltInHandlers.Get(name));
        return catalog;
    }

    /// <summary>Adds (or replaces) a factory under its <see cref="IConnectionHandlerFactory.Name"/>.</summary>
    public HandlerCatalog Add(IConnectionHandlerFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        if (string.IsNullOrWhiteSpace(factory.Name))
            throw new ArgumentException("a handler factory must have a name", nameof(factory));
        _factories[factory.Name] = factory;
        return this;
    }

    /// <summary>Names of every known handler, sorted.</summary>
    public IReadOnlyList<string> Names => _factories.Keys.Order(StringComparer.Ordinal).ToList();

    /// <summary>Finds a handler factory by name.</summary>
    public bool TryGet(string name, out IConnectionHandlerFactory factory) => _factories.TryGetValue(name, out factory!);

    /// <summary>The reason a name is unknown, with the nearest known name and listing the known ones.</summary>
    public string UnknownHandlerReason(string name)
    {
        var meant = EditDistance.Nearest(name, Names) is [var nearest, ..] ? $"; did you mean '{nearest}'?" : "";
        return $"unknown handler '{name}'{meant} (known handlers: {string.Join(", ", Names)})";
    }

    /// <summary>
    /// One problem for each listener whose <c>handler</c> this catalog does not know (a listener that loads its handler
    /// from an assembly names none), naming the listener's handler key.
    /// </summary>
    public IReadOnlyList<ShardRuntimeConfigurationException> FindUnknown(IEnumerable<ListenerSettings> listeners) =>
        listeners
            .Where(l => l.HandlerAssembly is null && !TryGet(l.Handler, out _))
            .Select(l => new ShardRuntimeConfigurationException($"{ShardRuntimeSettings.Section}.listeners.{l.Name}.handler", UnknownHandlerReason(l.Handler)))
            .ToList();
}
