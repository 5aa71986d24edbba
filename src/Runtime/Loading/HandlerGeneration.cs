using System.Runtime.Loader;
using ShardRuntime.Runtime.Connections;
using ShardRuntime.Runtime.Datagrams;
using ShardRuntime.Runtime.Handlers;

namespace ShardRuntime.Runtime.Loading;

/// <summary>
/// One loaded generation of a listener's handler code: its factory, the collectible context its assembly lives in
/// (none for built-in handlers), where it came from, and how many live connections still run on it. A UDP listener's
/// generation holds an <see cref="IDatagramHandlerFactory"/> instead (<see cref="IsDatagram"/>); there the count is of
/// shard sockets whose handler runs on it, each taking and releasing the generation as a connection does. A generation
/// of the async style holds an <see cref="IStreamConnectionHandlerFactory"/> (<see cref="IsStream"/>); its connections
/// count as the span style's do.
/// <para>
/// Life: a connection calls <see cref="TryAcquire"/> (or <see cref="Acquire"/>) before it creates its handler and
/// <see cref="Release"/> once when it ends. A reload <see cref="Retire"/>s the previous generation; a retired
/// generation whose count reaches zero unloads: its factory is disposed when it is <see cref="IDisposable"/>
/// and came from a user assembly, its context is unloaded, both references are dropped, and <see cref="Unloaded"/>
/// is raised on the thread that made the last release (or retired it). After that nothing can acquire it again.
/// All members are thread-safe.
/// </para>
/// </summary>
public sealed class HandlerGeneration
{
    private const int UnloadedMark = int.MinValue;

    private readonly bool _ownsFactory;
    private readonly object _gate = new();
    private object? _factory;
    private AssemblyLoadContext? _loadContext;
    private Action<HandlerGeneration>? _unloaded;
    private int _live;
    private volatile bool _retired;
    private volatile string? _unloadFailure;

    internal HandlerGeneration(
        int number,
        object factory,
        AssemblyLoadContext? loadContext,
        HandlerAssemblySpec? spec,
        DateTime? fileTimestampUtc,
        string? fileSha256)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(number, 1);
        Number = number;
        (Name, IsDatagram, IsStream) = factory switch
        {
            IConnectionHandlerFactory connections => (connections.Name, false, false),
            IStreamConnectionHandlerFactory streams => (streams.Name, false, true),
            IDatagramHandlerFactory datagrams => (datagrams.Name, true, false),
            _ => throw new ArgumentException($"A handler factory implements {nameof(IConnectionHandlerFactory)}, {nameof(IStreamConnectionHandlerFactory)} or {nameof(IDatagramHandlerFactory)}; {factory.GetType()} does none of them.", nameof(factory)),
        };
        _factory = factory;
        _loadContext = loadContext;
        _ownsFactory = loadContext is not null;
        Spec = spec;
        Source = SourceOf(factory, spec);
        FileTimestampUtc = fileTimestampUtc;
        FileSha256 = fileSha256;
        LoadedAtUtc = DateTime.UtcNow;
    }

    /// <summary>The generation's number: 1 for the first load of a listener's handler, one more per reload.</summary>
    public int Number { get; }

    /// <summary>The factory's <see cref="IConnectionHandlerFactory.Name"/>, kept after unloading for status and logs.</summary>
    public string Name { get; }

    /// <summary>True when the generation serves datagrams (<see cref="DatagramFactory"/>), false for connections (<see cref="Factory"/>).</summary>
    public bool IsDatagram { get; }

    /// <summary>
    /// True when the generation's connections are served in the async style (<see cref="StreamFactory"/>: a task per
    /// connection off the I/O loops), false for the span style (<see cref="Factory"/>) and datagrams.
    /// </summary>
    public bool IsStream { get; }

    /// <summary>The handler style, as <c>status</c> shows it: <c>span</c>, <c>async</c> or <c>datagram</c>.</summary>
    public string Style => IsDatagram ? "datagram" : IsStream ? "async" : "span";

    /// <summary>The assembly and type it was loaded from; null for a handler that is not from a user assembly.</summary>
    public HandlerAssemblySpec? Spec { get; }

    /// <summary>
    /// Where the handler's code came from, as <c>status</c> shows it: the assembly file of a handler loaded from one;
    /// the factory's type and assembly name of a factory that code registered (<c>MyApp.UppercaseFactory (MyApp)</c>);
    /// <c>built-in</c> for ShardRuntime's own handlers.
    /// </summary>
    public string Source { get; }

    /// <summary>What <see cref="Source"/> says of <paramref name="factory"/>: only ShardRuntime's own factories are built-in.</summary>
    internal static string SourceOf(object factory, HandlerAssemblySpec? spec)
    {
        if (spec is not null) return spec.AssemblyPath;
        var type = factory.GetType();
        return type.Assembly == typeof(HandlerGeneration).Assembly ? BuiltInSource : $"{type.FullName} ({type.Assembly.GetName().Name})";
    }

    /// <summary>The <see cref="Source"/> of ShardRuntime's own handlers.</summary>
    public const string BuiltInSource = "built-in";

    /// <summary>Last write time (UTC) of the assembly file when it was read; null when not from a file.</summary>
    public DateTime? FileTimestampUtc { get; }

    /// <summary>SHA-256 of the assembly bytes that were loaded, lowercase hex; null when not from a file.</summary>
    public string? FileSha256 { get; }

    /// <summary>When this generation was created (UTC).</summary>
    public DateTime LoadedAtUtc { get; }

    /// <summary>True for a handler compiled into the host (no context of its own, nothing to unload).</summary>
    public bool IsBuiltIn => !_ownsFactory;

    /// <summary>Connections that acquired this generation and have not released it yet.</summary>
    public int LiveConnections => Math.Max(0, Volatile.Read(ref _live));

    /// <summary>True once <see cref="Retire"/> was called: the generation unloads when its last connection ends.</summary>
    public bool IsRetired => _retired;

    /// <summary>True once unloaded; the factory and the context are gone.</summary>
    public bool IsUnloaded => Volatile.Read(ref _live) == UnloadedMark;

    /// <summary>
    /// What the factory's <see cref="IDisposable.Dispose"/> threw while unloading (the exception's text, so no
    /// reference into the unloaded code survives); null when it did not throw. The unload went ahead regardless.
    /// </summary>
    public string? UnloadFailure => _unloadFailure;

    /// <summary>The factory that creates this generation's handlers.</summary>
    /// <exception cref="InvalidOperationException">The generation was unloaded, or it serves datagrams.</exception>
    public IConnectionHandlerFactory Factory => FactoryAs<IConnectionHandlerFactory>("connections");

    /// <summary>The factory that creates this generation's async (stream) handlers.</summary>
    /// <exception cref="InvalidOperationException">The generation was unloaded, or it serves another style.</exception>
    public IStreamConnectionHandlerFactory StreamFactory => FactoryAs<IStreamConnectionHandlerFactory>("async connections");

    /// <summary>The factory that creates this generation's datagram handlers (one per shard socket).</summary>
    /// <exception cref="InvalidOperationException">The generation was unloaded, or it serves connections.</exception>
    public IDatagramHandlerFactory DatagramFactory => FactoryAs<IDatagramHandlerFactory>("datagrams");

    /// <summary>The collectible context the handler assembly was loaded into; null for built-in handlers and once unloaded.</summary>
    public AssemblyLoadContext? LoadContext => Volatile.Read(ref _loadContext);

    /// <summary>
    /// Raised once, after the generation unloaded, on the thread that caused it. A handler added after that is
    /// called at once. Handlers must not throw: they run inside <see cref="Release"/> or <see cref="Retire"/>.
    /// </summary>
    public event Action<HandlerGeneration>? Unloaded
    {
        add
        {
            lock (_gate)
            {
                if (!IsUnloaded)
                {
                    _unloaded += value;
                    return;
                }
            }

            value?.Invoke(this);
        }

        remove
        {
            lock (_gate)
            {
                _unloaded -= value;
            }
        }
    }

    /// <summary>Wraps a factory that lives in the host (a built-in handler): reloading it gives the same code a new number.</summary>
    public static HandlerGeneration FromFactory(IConnectionHandlerFactory factory, int number)
    {
        ArgumentNullException.ThrowIfNull(factory);
        return new HandlerGeneration(number, factory, loadContext: null, spec: null, fileTimestampUtc: null, fileSha256: null);
    }

    /// <summary>Wraps an async (stream) handler factory that lives in the host (a built-in such as <c>echo-async</c>, or one added from code).</summary>
    public static HandlerGeneration FromFactory(IStreamConnectionHandlerFactory factory, int number)
    {
        ArgumentNullException.ThrowIfNull(factory);
        return new HandlerGeneration(number, factory, loadContext: null, spec: null, fileTimestampUtc: null, fileSha256: null);
    }

    /// <summary>Wraps a datagram handler factory that lives in the host (a built-in such as <c>dns-static</c> with its options).</summary>
    public static HandlerGeneration FromFactory(IDatagramHandlerFactory factory, int number)
    {
        ArgumentNullException.ThrowIfNull(factory);
        return new HandlerGeneration(number, factory, loadContext: null, spec: null, fileTimestampUtc: null, fileSha256: null);
    }

    /// <summary>Wraps the built-in handler named <paramref name="name"/> (see <see cref="BuiltInHandlers"/>).</summary>
    /// <exception cref="ArgumentException">No built-in handler has that name.</exception>
    public static HandlerGeneration FromBuiltIn(string name, int number) => FromFactory(BuiltInHandlers.Get(name), number);

    /// <summary>Counts one more connection on this generation, unless it has already unloaded.</summary>
    /// <returns>False when the generation unloaded; the caller must take the current generation instead.</returns>
    public bool TryAcquire()
    {
        while (true)
        {
            var live = Volatile.Read(ref _live);
            if (live == UnloadedMark)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _live, live + 1, live) == live)
            {
                return true;
            }
        }
    }

    /// <summary>Counts one more connection on this generation.</summary>
    /// <exception cref="InvalidOperationException">The generation already unloaded.</exception>
    public void Acquire()
    {
        if (!TryAcquire())
        {
            throw new InvalidOperationException($"Handler generation {Number} ('{Name}') was unloaded and cannot take connections.");
        }
    }

    /// <summary>A connection that acquired this generation ended. Unloads the generation when it is retired and this was the last one.</summary>
    /// <exception cref="InvalidOperationException">More releases than acquisitions.</exception>
    public void Release()
    {
        while (true)
        {
            var live = Volatile.Read(ref _live);
            if (live <= 0)
            {
                throw new InvalidOperationException($"Handler generation {Number} ('{Name}') was released more often than acquired.");
            }

            if (Interlocked.CompareExchange(ref _live, live - 1, live) == live)
            {
                if (live == 1 && _retired)
                {
                    TryUnload();
                }

                return;
            }
        }
    }

    /// <summary>Marks the generation as replaced: it unloads now when no connection holds it, else when the last one releases it. Idempotent.</summary>
    public void Retire()
    {
        _retired = true;
        TryUnload();
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"generation {Number} ('{Name}'{(Spec is null ? "" : $" from {Spec.AssemblyPath}")}, {LiveConnections} live{(IsUnloaded ? ", unloaded" : IsRetired ? ", retired" : "")})";

    private T FactoryAs<T>(string serves) where T : class
    {
        var factory = Volatile.Read(ref _factory)
            ?? throw new InvalidOperationException($"Handler generation {Number} ('{Name}') was unloaded; acquire the current generation.");
        return factory as T
            ?? throw new InvalidOperationException($"Handler generation {Number} ('{Name}') serves {(IsDatagram ? "datagrams" : IsStream ? "async connections" : "connections")}, not {serves}.");
    }

    private void TryUnload()
    {
        // Retire and the last Release race; both end here and only the one that moves 0 to the mark unloads.
        if (Interlocked.CompareExchange(ref _live, UnloadedMark, 0) != 0)
        {
            return;
        }

        var factory = Interlocked.Exchange(ref _factory, null);
        if (_ownsFactory && factory is IDisposable disposable)
        {
            try
            {
                disposable.Dispose();
            }
            catch (Exception e)
            {
                _unloadFailure = e.ToString();
            }
        }

        Interlocked.Exchange(ref _loadContext, null)?.Unload();

        Action<HandlerGeneration>? unloaded;
        lock (_gate)
        {
            unloaded = _unloaded;
            _unloaded = null;
        }

        unloaded?.Invoke(this);
    }
}
