using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Tls;

namespace ShardRuntime.Actors.Coordination;

/// <summary>
/// The TLS material one change of the coordinator needs, read off its thread with the handler code
/// (<see cref="PreparedHandlers.Load"/>): for each new or replaced TLS listener, and again for each running TLS listener
/// a reload reaches (its files may have new contents under the same names); or why each could not be read, naming the
/// key and the file. The coordinator takes what it commits; material not taken is simply dropped (it holds no handle).
/// </summary>
internal sealed class PreparedTls
{
    private readonly Dictionary<ListenerSettings, (TlsMaterial? Material, string? Failure)> _new;
    private readonly Dictionary<ListenerState, (TlsMaterial? Material, string? Failure)> _reloads;

    private PreparedTls(Dictionary<ListenerSettings, (TlsMaterial?, string?)> fresh, Dictionary<ListenerState, (TlsMaterial?, string?)> reloads)
    {
        _new = fresh;
        _reloads = reloads;
    }

    /// <summary>Nothing read, nothing needed.</summary>
    public static PreparedTls None => new([], []);

    /// <summary>Reads on the calling thread (never the coordinator's): each listener's files separately, a refusal kept as its reason.</summary>
    public static PreparedTls Load(IEnumerable<ListenerSettings> listeners, IEnumerable<ListenerState> reloads)
    {
        var now = DateTime.UtcNow;
        return new PreparedTls(
            listeners.Where(s => s.Tls is not null).Distinct().ToDictionary(s => s, s => Read(s.Tls!, now)),
            reloads.Where(l => l.Settings.Tls is not null).ToDictionary(l => l, l => Read(l.Settings.Tls!, now)));
    }

    /// <summary>Every item refused for the same <paramref name="reason"/> (the preparation missed its deadline, or failed as a whole).</summary>
    public static PreparedTls Failed(IEnumerable<ListenerSettings> listeners, IEnumerable<ListenerState> reloads, string reason) =>
        new(listeners.Where(s => s.Tls is not null).Distinct().ToDictionary(s => s, _ => ((TlsMaterial?)null, (string?)reason)),
            reloads.Where(l => l.Settings.Tls is not null).ToDictionary(l => l, _ => ((TlsMaterial?)null, (string?)reason)));

    /// <summary>The material read for a new listener with <paramref name="settings"/>, or why there is none.</summary>
    public bool TryGet(ListenerSettings settings, out TlsMaterial? material, out string failure)
    {
        if (_new.TryGetValue(settings, out var read) && read.Material is not null)
        {
            material = read.Material;
            failure = "";
            return true;
        }
        material = null;
        failure = read.Failure ?? "its TLS files were not read for this change (it changed meanwhile); try again";
        return false;
    }

    /// <summary>The material read again for the running <paramref name="listener"/>, or why there is none.</summary>
    public (TlsMaterial? Material, string? Failure) Take(ListenerState listener) =>
        _reloads.Remove(listener, out var read)
            ? read
            : (null, "its TLS files were not read for this reload (the listener changed meanwhile); try again");

    private static (TlsMaterial?, string?) Read(TlsOptions options, DateTime now)
    {
        try
        {
            return (TlsMaterial.Load(options, now), null);
        }
        catch (TlsMaterialException e)
        {
            return (null, e.Message);
        }
    }
}
