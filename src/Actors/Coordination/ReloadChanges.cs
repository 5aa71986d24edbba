using System.Globalization;
using System.Reflection;
using System.Text;
using ShardRuntime.Actors.Settings;

namespace ShardRuntime.Actors.Coordination;

/// <summary>What a reload changed, one line per listener, for the operator who asked (the CLI prints them).</summary>
internal static class ReloadChanges
{
    private static readonly PropertyInfo[] Compared = typeof(ListenerSettings)
        .GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Where(p => p.Name is not (nameof(ListenerSettings.Name) or nameof(ListenerSettings.EffectiveShards)) && p.GetIndexParameters().Length == 0)
        .ToArray();

    /// <summary>
    /// What a reload of the configuration file applies: the file's listeners (<paramref name="file"/>), except that a
    /// listener scaled at runtime (its count in <paramref name="configured"/>, the node's own desired state, differs from
    /// the file's) keeps that count when the file's count for it is still the one the node last read
    /// (<paramref name="fileBefore"/>): a reload undoes only what the file was changed to undo.
    /// </summary>
    public static IReadOnlyList<ListenerSettings> KeepRuntimeScale(
        IReadOnlyList<ListenerSettings> file, IReadOnlyList<ListenerSettings> fileBefore, IReadOnlyList<ListenerSettings> configured) =>
        file.Select(l =>
            fileBefore.FirstOrDefault(b => b.Name == l.Name) is { } before && before.Shards == l.Shards
            && configured.FirstOrDefault(c => c.Name == l.Name) is { } now && now.Shards != l.Shards
                ? l with { Shards = now.Shards }
                : l).ToList();

    /// <summary>
    /// The listeners added, removed and changed (with each setting that changed, old -> new) between
    /// <paramref name="before"/> and <paramref name="after"/> (by name), in name order. Handlers reloaded are not
    /// among them: <see cref="Coordinator.Reloaded.Listeners"/> names those.
    /// </summary>
    public static List<string> Describe(IReadOnlyDictionary<string, ListenerSettings> before, IReadOnlyDictionary<string, ListenerSettings> after)
    {
        var changes = new List<string>();
        foreach (var name in before.Keys.Union(after.Keys).Order(StringComparer.Ordinal))
        {
            var had = before.TryGetValue(name, out var old);
            var has = after.TryGetValue(name, out var now);
            if (!had) changes.Add($"listener '{name}' added: {Summary(now!)}");
            else if (!has) changes.Add($"listener '{name}' removed (it was {Summary(old!)}); its connections drain");
            else if (old != now) changes.Add($"listener '{name}' changed: {string.Join(", ", Differences(old!, now!))}");
        }
        return changes;
    }

    private static string Summary(ListenerSettings s) =>
        $"{s.Protocol.ToString().ToLowerInvariant()} {s.EndPoint}, handler {s.HandlerType ?? s.Handler}, {s.EffectiveShards} shard(s)";

    private static IEnumerable<string> Differences(ListenerSettings old, ListenerSettings now) =>
        Compared.Select(p => (Key: KeyOf(p.Name), Old: p.GetValue(old), New: p.GetValue(now)))
            .Where(d => !Equals(d.Old, d.New))
            .Select(d => $"{d.Key} {Format(d.Old)} -> {Format(d.New)}");

    /// <summary>The HOCON key of a setting: EndPoint -> endpoint, HandlerAssembly -> handler-assembly.</summary>
    private static string KeyOf(string property)
    {
        if (property == nameof(ListenerSettings.EndPoint)) return "endpoint";
        var key = new StringBuilder();
        foreach (var c in property)
        {
            if (char.IsUpper(c) && key.Length > 0) key.Append('-');
            key.Append(char.ToLowerInvariant(c));
        }
        return key.ToString();
    }

    private static string Format(object? value) => value switch
    {
        null => "(none)",
        string s => $"'{s}'",
        bool b => b ? "on" : "off",
        Enum e => e.ToString().ToLowerInvariant(),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
