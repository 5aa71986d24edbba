using System.Collections.Concurrent;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Connections;
using ShardRuntime.Runtime.Datagrams;
using ShardRuntime.Runtime.Handlers;

namespace ShardRuntime.Actors.Handlers;

/// <summary>
/// The handler factories a node can serve, by name: the built-ins (connection handlers <c>http-ok</c>, <c>echo</c>, and
/// <c>echo-async</c> of the async style; datagram handlers <c>udp-echo</c>, <c>dns-static</c>) and any that user code
/// adds through the hosting options. A tcp listener takes a connection handler of either style, a udp listener a
/// datagram handler. <c>dns-static</c> is made per listener, from its <c>dns-static</c> block. It also chooses each tcp
/// listener's stream layer (<see cref="UseStreamLayers"/>: TLS), none by default. Thread-safe.
/// </summary>
public sealed class HandlerCatalog
{
    private readonly ConcurrentDictionary<string, IConnectionHandlerFactory> _factories = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, IDatagramHandlerFactory> _datagramFactories = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, IStreamConnectionHandlerFactory> _streamFactories = new(StringComparer.Ordinal);
    private volatile Func<ListenerSettings, IConnectionStreamLayer?>? _streamLayers;

    /// <summary>A catalog that knows the built-in handlers.</summary>
    public static HandlerCatalog WithBuiltIns()
    {
        var catalog = new HandlerCatalog();
        foreach (var name in BuiltInHandlers.Names)
            catalog.Add(BuiltInHandlers.Get(name));
        foreach (var name in BuiltInHandlers.StreamNames)
        {
            BuiltInHandlers.TryGetStream(name, out var factory);
            catalog.Add(factory!);
        }
        catalog.Add(new UdpEchoHandlerFactory());
        return catalog;
    }

    /// <summary>Adds (or replaces) an async-style factory under its <see cref="IStreamConnectionHandlerFactory.Name"/>.</summary>
    public HandlerCatalog Add(IStreamConnectionHandlerFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        _factories.TryRemove(NameOf(factory.Name), out _);
        _streamFactories[factory.Name] = factory;
        return this;
    }

    /// <summary>Finds an async-style handler factory by name.</summary>
    public bool TryGetStream(string name, out IStreamConnectionHandlerFactory factory) => _streamFactories.TryGetValue(name, out factory!);

    /// <summary>
    /// Sets how each tcp listener's stream layer is chosen (for example TLS from its settings): called once per listener
    /// incarnation, when it starts; null from it (or no chooser) serves the socket's bytes as they are. A listener with a
    /// layer serves every connection on the stream path.
    /// </summary>
    public HandlerCatalog UseStreamLayers(Func<ListenerSettings, IConnectionStreamLayer?> choose)
    {
        ArgumentNullException.ThrowIfNull(choose);
        _streamLayers = choose;
        return this;
    }

    /// <summary>The stream layer of <paramref name="listener"/>, or null (see <see cref="UseStreamLayers"/>).</summary>
    public IConnectionStreamLayer? StreamLayerFor(ListenerSettings listener) =>
        listener.IsDatagram ? null : _streamLayers?.Invoke(listener);

    /// <summary>Adds (or replaces) a factory under its <see cref="IConnectionHandlerFactory.Name"/>.</summary>
    public HandlerCatalog Add(IConnectionHandlerFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        _streamFactories.TryRemove(NameOf(factory.Name), out _);
        _factories[factory.Name] = factory;
        return this;
    }

    /// <summary>Adds (or replaces) a datagram handler factory under its <see cref="IDatagramHandlerFactory.Name"/>.</summary>
    public HandlerCatalog Add(IDatagramHandlerFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        _datagramFactories[NameOf(factory.Name)] = factory;
        return this;
    }

    private static string NameOf(string name) =>
        string.IsNullOrWhiteSpace(name) ? throw new ArgumentException("a handler factory must have a name", nameof(name)) : name;

    /// <summary>Names of every known handler (connection and datagram), sorted.</summary>
    public IReadOnlyList<string> Names =>
        _factories.Keys.Concat(_streamFactories.Keys).Concat(_datagramFactories.Keys).Append(DnsStaticHandlerFactory.HandlerName).Distinct().Order(StringComparer.Ordinal).ToList();

    /// <summary>Finds a connection handler factory by name.</summary>
    public bool TryGet(string name, out IConnectionHandlerFactory factory) => _factories.TryGetValue(name, out factory!);

    /// <summary>
    /// The datagram handler factory of <paramref name="listener"/> (a udp listener with a handler named in the catalog):
    /// <c>dns-static</c> made anew from its zone (a reload that changed the zone gets the new one), the others as added.
    /// </summary>
    public bool TryGetDatagram(ListenerSettings listener, out IDatagramHandlerFactory factory)
    {
        ArgumentNullException.ThrowIfNull(listener);
        if (listener.Handler == DnsStaticHandlerFactory.HandlerName && listener.DnsStatic is { } zone && !_datagramFactories.ContainsKey(listener.Handler))
        {
            factory = new DnsStaticHandlerFactory(zone.Options);
            return true;
        }
        return _datagramFactories.TryGetValue(listener.Handler, out factory!);
    }

    private bool IsDatagramHandler(string name) => _datagramFactories.ContainsKey(name) || name == DnsStaticHandlerFactory.HandlerName;

    /// <summary>
    /// The reason a name is unknown, with the nearest known name and listing the known ones: those of the kind a listener
    /// takes (<paramref name="datagram"/>: udp or tcp), or every one when null.
    /// </summary>
    public string UnknownHandlerReason(string name, bool? datagram = null)
    {
        var known = Names.Where(n => datagram is not { } kind || IsDatagramHandler(n) == kind).ToList();
        var meant = EditDistance.Nearest(name, known) is [var nearest, ..] ? $"; did you mean '{nearest}'?" : "";
        return $"unknown handler '{name}'{meant} (known handlers: {string.Join(", ", known)})";
    }

    /// <summary>
    /// Why <paramref name="listener"/>'s built-in <c>handler</c> cannot serve it (unknown, or of the other kind than its
    /// protocol takes), or null (also for a handler from an assembly: its kind is known once it is loaded).
    /// </summary>
    public string? HandlerRefusal(ListenerSettings listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        if (listener.HandlerAssembly is not null) return null;
        var datagram = IsDatagramHandler(listener.Handler);
        if (!datagram && !_factories.ContainsKey(listener.Handler) && !_streamFactories.ContainsKey(listener.Handler)) return UnknownHandlerReason(listener.Handler, listener.IsDatagram);
        return datagram == listener.IsDatagram ? null : KindMismatch(listener, listener.Handler, datagram);
    }

    /// <summary>The refusal of a handler of the other kind than <paramref name="listener"/>'s protocol takes, naming both kinds.</summary>
    public string KindMismatch(ListenerSettings listener, string handler, bool handlerIsDatagram)
    {
        ArgumentNullException.ThrowIfNull(listener);
        var fitting = Names.Where(n => IsDatagramHandler(n) == listener.IsDatagram);
        return $"handler '{handler}' is {ListenerSettings.HandlerKind(handlerIsDatagram)}, but listener '{listener.Name}' has protocol = " +
               $"{listener.Protocol.ToString().ToLowerInvariant()}, which takes {ListenerSettings.HandlerKind(listener.IsDatagram)} " +
               $"(known: {string.Join(", ", fitting)})";
    }

    /// <summary>
    /// One problem for each listener whose <c>handler</c> this catalog does not know or cannot serve it (see
    /// <see cref="HandlerRefusal"/>), naming the listener's handler key.
    /// </summary>
    public IReadOnlyList<ShardRuntimeConfigurationException> FindUnknown(IEnumerable<ListenerSettings> listeners) =>
        listeners
            .Select(l => (Listener: l, Refusal: HandlerRefusal(l)))
            .Where(l => l.Refusal is not null)
            .Select(l => new ShardRuntimeConfigurationException($"{ShardRuntimeSettings.Section}.listeners.{l.Listener.Name}.handler", l.Refusal!))
            .ToList();
}
