using ShardRuntime.Runtime.Connections;
using ShardRuntime.Runtime.Datagrams;
using ShardRuntime.Runtime.Handlers;

namespace ShardRuntime.Runtime.Loading;

/// <summary>
/// The handler generations of one listener: the current one, which new connections get, and the retired ones still
/// draining their connections. <see cref="Reload()"/> loads the next generation first and switches to it only when
/// that succeeded; a refused reload leaves the current generation serving. A retired generation unloads when its
/// last connection releases it. <see cref="Acquire"/> is lock-free and may run on any thread, concurrently with a
/// reload; reloads are serialised.
/// </summary>
public sealed class HandlerRegistry : IDisposable
{
    private readonly object _reloadGate = new();
    private readonly List<HandlerGeneration> _draining = [];
    private Func<int, HandlerGeneration> _load;
    private HandlerGeneration? _current;
    private volatile string? _lastReloadFailure;
    private bool _disposed;

    /// <summary>
    /// Creates the registry and loads generation 1 with <paramref name="loadGeneration"/>, which is called with the
    /// number of the generation to create, now and on every reload, and must return a generation of that number.
    /// </summary>
    /// <exception cref="HandlerLoadException">Generation 1 could not be loaded (from <paramref name="loadGeneration"/>).</exception>
    public HandlerRegistry(string listenerName, Func<int, HandlerGeneration> loadGeneration)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(listenerName);
        ArgumentNullException.ThrowIfNull(loadGeneration);
        ListenerName = listenerName;
        _load = loadGeneration;
        _current = LoadTracked(loadGeneration, 1);
    }

    /// <summary>The listener these generations serve.</summary>
    public string ListenerName { get; }

    /// <summary>The generation new connections get.</summary>
    /// <exception cref="ObjectDisposedException">The registry was disposed.</exception>
    public HandlerGeneration Current => Volatile.Read(ref _current) ?? throw new ObjectDisposedException(nameof(HandlerRegistry));

    /// <summary>Raised (on the thread of the last release) when a retired generation unloaded. Handlers must not throw.</summary>
    public event Action<HandlerGeneration>? GenerationUnloaded;

    /// <summary>A registry for a handler from a user assembly; generation 1 is loaded now.</summary>
    /// <exception cref="HandlerLoadException">The handler could not be loaded.</exception>
    public static HandlerRegistry ForAssembly(string listenerName, HandlerAssemblySpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return new HandlerRegistry(listenerName, number => HandlerLoader.Load(spec, number));
    }

    /// <summary>A registry for a built-in handler: a reload gives the same code a new generation number.</summary>
    /// <exception cref="ArgumentException">No built-in handler has that name.</exception>
    public static HandlerRegistry ForBuiltIn(string listenerName, string handlerName)
    {
        var factory = BuiltInHandlers.Get(handlerName);
        return ForFactory(listenerName, factory);
    }

    /// <summary>A registry for a factory that lives in the host (no context to unload).</summary>
    public static HandlerRegistry ForFactory(string listenerName, IConnectionHandlerFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        return new HandlerRegistry(listenerName, number => HandlerGeneration.FromFactory(factory, number));
    }

    /// <summary>A registry for an async (stream) handler factory that lives in the host (no context to unload).</summary>
    public static HandlerRegistry ForFactory(string listenerName, IStreamConnectionHandlerFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        return new HandlerRegistry(listenerName, number => HandlerGeneration.FromFactory(factory, number));
    }

    /// <summary>
    /// A registry for a datagram handler factory that lives in the host: a reload gives the same factory a new number.
    /// (A factory that must be made anew on reload, as <c>dns-static</c> with re-read options, goes through the
    /// constructor with a loader that creates it.)
    /// </summary>
    public static HandlerRegistry ForFactory(string listenerName, IDatagramHandlerFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        return new HandlerRegistry(listenerName, number => HandlerGeneration.FromFactory(factory, number));
    }

    /// <summary>
    /// Takes the current generation for a new connection. Dispose the lease when the connection ends, exactly as
    /// long as the connection may still call its handler.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The registry was disposed.</exception>
    public HandlerLease Acquire()
    {
        while (true)
        {
            var current = Current;
            if (current.TryAcquire())
            {
                return new HandlerLease(current);
            }

            // A reload retired it and its last connection ended between the read and the acquire: a newer one is current now.
        }
    }

    /// <summary>Loads the current file again as the next generation (for a built-in handler: the same code, a new number).</summary>
    /// <returns>The new current generation.</returns>
    /// <exception cref="HandlerLoadException">The reload was refused, for the reason given; the current generation keeps serving.</exception>
    /// <exception cref="ObjectDisposedException">The registry was disposed.</exception>
    public HandlerGeneration Reload()
    {
        lock (_reloadGate)
        {
            return SwitchTo(_load);
        }
    }

    /// <summary>
    /// Loads the next generation from <paramref name="spec"/> (for example after the configuration changed the path
    /// or the type). Only when that succeeds do later reloads use <paramref name="spec"/>.
    /// </summary>
    /// <inheritdoc cref="Reload()" />
    public HandlerGeneration Reload(HandlerAssemblySpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        lock (_reloadGate)
        {
            return SwitchTo(number => HandlerLoader.Load(spec, number));
        }
    }

    /// <summary>
    /// The first half of <see cref="Reload()"/>, for a caller that must not wait for the load on its own thread (the
    /// coordinator): loads the next generation from the current file on the calling thread, without switching to it.
    /// Pass it to <see cref="SwitchTo(HandlerGeneration)"/>, or <see cref="HandlerGeneration.Retire"/> it when it is not wanted.
    /// </summary>
    /// <exception cref="HandlerLoadException">The load was refused (recorded as the last reload failure); nothing changed.</exception>
    /// <exception cref="ObjectDisposedException">The registry was disposed.</exception>
    public HandlerGeneration LoadNext()
    {
        var load = Volatile.Read(ref _load);
        try
        {
            return LoadTracked(load, Current.Number + 1);
        }
        catch (Exception e) when (e is not ObjectDisposedException)
        {
            _lastReloadFailure = e.Message;
            throw;
        }
    }

    /// <summary>
    /// The second half of <see cref="Reload()"/>: <paramref name="next"/> (from <see cref="LoadNext"/>) becomes the
    /// current generation and the previous one retires.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// Another generation became current since <paramref name="next"/> was loaded; <paramref name="next"/> was retired.
    /// </exception>
    /// <exception cref="ObjectDisposedException">The registry was disposed; <paramref name="next"/> was retired.</exception>
    public HandlerGeneration SwitchTo(HandlerGeneration next)
    {
        ArgumentNullException.ThrowIfNull(next);
        lock (_reloadGate)
        {
            var current = Volatile.Read(ref _current);
            if (_disposed || current is null || next.Number != current.Number + 1)
            {
                next.Retire();
                ObjectDisposedException.ThrowIf(_disposed || current is null, this);
                throw new InvalidOperationException($"Generation {next.Number} was loaded for generation {next.Number - 1}, but generation {current!.Number} is current.");
            }

            _lastReloadFailure = null;
            Volatile.Write(ref _current, next);
            Retire(current);
            return next;
        }
    }

    /// <summary>Records why a reload was refused outside the registry (a load that missed its deadline), for <see cref="Snapshot"/>.</summary>
    public void RecordReloadFailure(string reason) => _lastReloadFailure = reason;

    /// <summary>The live generations (current first, then those still draining) with their connection counts.</summary>
    public HandlerRegistryStatus Snapshot()
    {
        var current = Volatile.Read(ref _current);
        var generations = new List<HandlerGenerationStatus>();
        if (current is not null)
        {
            generations.Add(StatusOf(current, isCurrent: true));
        }

        lock (_draining)
        {
            generations.AddRange(_draining
                .Where(g => g != current && !g.IsUnloaded)
                .OrderByDescending(g => g.Number)
                .Select(g => StatusOf(g, isCurrent: false)));
        }

        return new HandlerRegistryStatus(ListenerName, current?.Number ?? 0, generations, _lastReloadFailure);
    }

    /// <summary>Retires the current generation (it unloads once its connections end); no new connection can acquire. Idempotent.</summary>
    public void Dispose()
    {
        lock (_reloadGate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            var current = Interlocked.Exchange(ref _current, null);
            if (current is not null)
            {
                Retire(current);
            }
        }
    }

    private HandlerGeneration SwitchTo(Func<int, HandlerGeneration> load)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var previous = Current;
        HandlerGeneration next;
        try
        {
            next = LoadTracked(load, previous.Number + 1);
        }
        catch (Exception e)
        {
            _lastReloadFailure = e.Message;
            throw;
        }

        Volatile.Write(ref _load, load);
        _lastReloadFailure = null;
        Volatile.Write(ref _current, next);
        Retire(previous);
        return next;
    }

    private HandlerGeneration LoadTracked(Func<int, HandlerGeneration> load, int number)
    {
        var generation = load(number);
        if (generation.Number != number)
        {
            generation.Retire();
            throw new InvalidOperationException($"The generation loader returned generation {generation.Number} when asked for {number}.");
        }

        generation.Unloaded += OnUnloaded;
        return generation;
    }

    private void Retire(HandlerGeneration generation)
    {
        lock (_draining)
        {
            _draining.Add(generation);
        }

        // May unload at once (and call OnUnloaded) when no connection holds it.
        generation.Retire();
    }

    private void OnUnloaded(HandlerGeneration generation)
    {
        lock (_draining)
        {
            _draining.Remove(generation);
        }

        GenerationUnloaded?.Invoke(generation);
    }

    private static HandlerGenerationStatus StatusOf(HandlerGeneration generation, bool isCurrent) =>
        new(
            generation.Number,
            generation.Name,
            isCurrent,
            generation.LiveConnections,
            generation.Spec?.AssemblyPath,
            generation.FileSha256,
            generation.FileTimestampUtc,
            generation.LoadedAtUtc,
            generation.Style,
            generation.Source);
}
