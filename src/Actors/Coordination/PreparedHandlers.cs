using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Loading;

namespace ShardRuntime.Actors.Coordination;

/// <summary>
/// Handler code one change of the coordinator needs, loaded off the coordinator's thread (<see cref="Load"/> runs on a
/// thread of its own, with a deadline): a first generation for each new or replaced listener with a user assembly, and
/// the next generation of each running listener to reload; or why each could not be loaded. The same thread reads the
/// TLS files of those listeners (<see cref="Tls"/>). The coordinator takes what it commits (<see cref="Claim"/>,
/// <see cref="TakeGeneration"/>); <see cref="Dispose"/> unloads the rest.
/// </summary>
internal sealed class PreparedHandlers : IDisposable
{
    private readonly Dictionary<ListenerSettings, (HandlerRegistry? Registry, string? Failure)> _registries;
    private readonly Dictionary<ListenerState, (HandlerGeneration? Next, string? Failure)> _generations;
    private readonly HashSet<HandlerRegistry> _claimed = new(ReferenceEqualityComparer.Instance);

    private PreparedHandlers(
        Dictionary<ListenerSettings, (HandlerRegistry?, string?)> registries, Dictionary<ListenerState, (HandlerGeneration?, string?)> generations,
        PreparedTls tls)
    {
        _registries = registries;
        _generations = generations;
        Tls = tls;
    }

    /// <summary>Nothing loaded, nothing needed.</summary>
    public static PreparedHandlers None => new([], [], PreparedTls.None);

    /// <summary>The TLS material read for the same listeners.</summary>
    public PreparedTls Tls { get; }

    /// <summary>
    /// The listeners of <paramref name="desired"/> whose handler assembly (or TLS files) must be read for them to be
    /// applied: those with a user assembly or TLS that are new, or changed in more than their shard count (they get a
    /// new registry).
    /// </summary>
    public static List<ListenerSettings> NeededBy(IEnumerable<ListenerSettings> desired, IReadOnlyDictionary<string, ListenerState> running) =>
        desired.Where(s => (s.HandlerAssembly is not null || s.Tls is not null)
                           && (!running.TryGetValue(s.Name, out var existing) || existing.Settings with { Shards = s.Shards } != s))
            .Distinct()
            .ToList();

    /// <summary>The assembly and type of a listener with a user handler (null for a built-in one); one from the cluster only from <paramref name="handlerDirectories"/>.</summary>
    public static HandlerAssemblySpec? SpecOf(ListenerSettings settings, IReadOnlyList<string> handlerDirectories) =>
        settings.HandlerAssembly is null
            ? null
            : new(settings.HandlerAssembly, settings.HandlerType!) { AllowedDirectories = settings.FromCluster ? handlerDirectories : null };

    /// <summary>Loads on the calling thread (never the coordinator's): each item separately, a failure is kept as its reason.</summary>
    public static PreparedHandlers Load(IReadOnlyList<(ListenerSettings Settings, HandlerAssemblySpec? Spec)> registries, IReadOnlyList<ListenerState> reloads)
    {
        var loaded = new Dictionary<ListenerSettings, (HandlerRegistry?, string?)>();
        foreach (var (settings, spec) in registries)
        {
            if (spec is null) continue; // a built-in handler: only its TLS files are read
            try
            {
                loaded[settings] = (HandlerRegistry.ForAssembly(settings.Name, spec), null);
            }
            catch (HandlerLoadException e)
            {
                loaded[settings] = (null, e.Message);
            }
        }
        var generations = new Dictionary<ListenerState, (HandlerGeneration?, string?)>();
        foreach (var listener in reloads)
        {
            try
            {
                generations[listener] = (listener.Handlers.LoadNext(), null);
            }
            catch (Exception e) when (e is HandlerLoadException or ObjectDisposedException or InvalidOperationException)
            {
                generations[listener] = (null, e.Message);
            }
        }
        return new PreparedHandlers(loaded, generations, PreparedTls.Load(registries.Select(r => r.Settings), reloads));
    }

    /// <summary>Every item refused for the same <paramref name="reason"/> (the load missed its deadline, or failed as a whole).</summary>
    public static PreparedHandlers Failed(IReadOnlyList<ListenerSettings> registries, IReadOnlyList<ListenerState> reloads, string reason) =>
        new(registries.Where(s => s.HandlerAssembly is not null).ToDictionary(s => s, _ => ((HandlerRegistry?)null, (string?)reason)),
            reloads.ToDictionary(l => l, _ => ((HandlerGeneration?)null, (string?)reason)),
            PreparedTls.Failed(registries, reloads, reason));

    /// <summary>The first generation loaded for <paramref name="settings"/>, or why there is none. It stays this object's until <see cref="Claim"/>ed.</summary>
    public bool TryGetRegistry(ListenerSettings settings, out HandlerRegistry? registry, out string failure)
    {
        if (_registries.TryGetValue(settings, out var loaded) && loaded.Registry is not null)
        {
            registry = loaded.Registry;
            failure = "";
            return true;
        }
        registry = null;
        failure = loaded.Failure ?? "its handler assembly was not loaded for this change (it changed meanwhile); try again";
        return false;
    }

    /// <summary>Whether <paramref name="registry"/> is one of these (so not the caller's to dispose before it is claimed).</summary>
    public bool Holds(HandlerRegistry registry) => _registries.Values.Any(r => ReferenceEquals(r.Registry, registry));

    /// <summary>The coordinator committed <paramref name="registry"/>: it is the listener's now, not disposed with the rest.</summary>
    public void Claim(HandlerRegistry registry) => _claimed.Add(registry);

    /// <summary>The next generation loaded for <paramref name="listener"/> (now the caller's), or why there is none.</summary>
    public (HandlerGeneration? Next, string? Failure) TakeGeneration(ListenerState listener)
    {
        if (!_generations.Remove(listener, out var loaded))
            return (null, "its handler was not loaded for this reload (the listener changed meanwhile); try again");
        return loaded;
    }

    /// <summary>Unloads what was loaded and not taken.</summary>
    public void Dispose()
    {
        foreach (var (registry, _) in _registries.Values)
        {
            if (registry is not null && !_claimed.Contains(registry)) registry.Dispose();
        }
        _registries.Clear();
        foreach (var (next, _) in _generations.Values) next?.Retire();
        _generations.Clear();
    }
}
