using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace ShardRuntime.Actors.Settings;

/// <summary>
/// Which keys are valid under <c>shard-runtime</c>, derived from the embedded reference.conf (every key it has is
/// valid, and nothing else) plus the shape of a listener block: the keys of <c>listener-defaults</c> and
/// <see cref="ListenerSettings.EndpointKey"/>. Finds the keys of a configuration that are not valid, each with the nearest
/// valid keys (edit distance), at its own level first and else at any level, so a key at the wrong level is told where
/// it belongs. Keys outside <c>shard-runtime</c> (akka.*, an application's own) are not checked, except a top-level key
/// that is a misspelling of <c>shard-runtime</c> itself.
/// </summary>
internal static class ConfigKeys
{
    /// <summary>A key the schema does not know, or a block where a value belongs (or the other way round).</summary>
    /// <param name="Key">Full path of the key.</param>
    /// <param name="Text">What is wrong with it, with the suggestions in words.</param>
    /// <param name="Suggestions">Full paths of the nearest valid keys (a listener's name shown as &lt;name&gt; where it is not known).</param>
    public sealed record Problem(string Key, string Text, IReadOnlyList<string> Suggestions);

    /// <summary>
    /// One level of the schema: a value (no children), a block (its children by name), or a map of named blocks whose
    /// entries all have the schema <see cref="Entry"/> (<c>listeners</c>).
    /// </summary>
    private sealed class Node
    {
        public Dictionary<string, Node>? Children { get; init; }
        public Node? Entry { get; init; }

        /// <summary>A block that is empty in reference.conf (<c>dns-static.records</c>): its keys are names the reader of the block checks.</summary>
        public bool Free { get; init; }

        public bool IsValue => Children is null && Entry is null && !Free;
    }

    /// <summary>Where a key is valid: its parent's node, the parent's path as messages print it, and the key.</summary>
    private sealed record Location(Node Parent, string ParentPath, string Key)
    {
        public string Path => ParentPath + "." + Key;
    }

    private const string ListenerPlaceholder = "<name>";

    private static readonly Lazy<(Node Root, Node Listener, IReadOnlyList<Location> Locations)> Schema = new(Build);

    /// <summary>Every problem with the keys of <paramref name="config"/>, in the order of the file's blocks.</summary>
    public static IReadOnlyList<Problem> Find(Config config)
    {
        var problems = new List<Problem>();
        if (config.IsEmpty || config.Root is not { } root || !root.IsObject())
            return problems;
        foreach (var (key, value) in root.GetObject().Items)
        {
            if (key == ShardRuntimeSettings.Section)
                Walk(value, Schema.Value.Root, key, problems);
            else if (EditDistance.Between(key, ShardRuntimeSettings.Section) <= 2)
                problems.Add(new Problem(key, $"is not a known section; did you mean '{ShardRuntimeSettings.Section}'?", [ShardRuntimeSettings.Section]));
        }
        return problems;
    }

    /// <summary>Every problem with the keys of one listener's block (read alone, e.g. a definition from the cluster) under <paramref name="path"/>.</summary>
    public static IReadOnlyList<Problem> FindInListener(Config block, string path)
    {
        var problems = new List<Problem>();
        if (!block.IsEmpty && block.Root is { } root && root.IsObject())
            Walk(root, Schema.Value.Listener, path, problems);
        return problems;
    }

    private static void Walk(HoconValue value, Node schema, string path, List<Problem> problems)
    {
        if (schema.Free)
        {
            if (!value.IsObject())
                problems.Add(new Problem(path, "must be a block", []));
            return;
        }
        if (schema.IsValue)
        {
            if (value.IsObject())
                problems.Add(new Problem(path, "must be a value, not a block", []));
            return;
        }
        if (!value.IsObject())
        {
            // A non-block under a map: the reader of that map names it (a listener must be a block). A block given a value:
            if (schema.Children is { } expected)
                problems.Add(new Problem(path, $"must be a block (with keys {string.Join(", ", expected.Keys)})", []));
            return;
        }
        foreach (var (key, child) in value.GetObject().Items)
        {
            var childPath = path + "." + key;
            if (schema.Children is { } children)
            {
                if (children.TryGetValue(key, out var known))
                    Walk(child, known, childPath, problems);
                else
                    problems.Add(Unknown(key, schema, path));
            }
            else if (child.IsObject())
            {
                Walk(child, schema.Entry!, childPath, problems);
            }
            else if (schema.Entry!.Children!.ContainsKey(key))
            {
                // `listeners { endpoint = ... }`: a listener's key one level too high.
                problems.Add(Unknown(key, schema, path));
            }
        }
    }

    /// <summary>
    /// An unknown <paramref name="key"/> under <paramref name="parentPath"/>: the nearest valid keys at its own level, or
    /// (when none is as near) at any other level; the valid keys of its level when nothing is near.
    /// </summary>
    private static Problem Unknown(string key, Node parent, string parentPath)
    {
        var limit = EditDistance.Limit(key);
        var here = (parent.Children?.Keys ?? Enumerable.Empty<string>()).Select(k => (Path: parentPath + "." + k, Distance: EditDistance.Between(key, k), Here: true));
        var elsewhere = Schema.Value.Locations.Where(l => l.Parent != parent).Select(l => (l.Path, Distance: EditDistance.Between(key, l.Key), Here: false));
        var near = here.Concat(elsewhere).Where(c => c.Distance <= limit).ToList();
        var path = parentPath + "." + key;
        if (near.Count == 0)
        {
            var listing = parent.Children is { } valid ? $"valid keys here: {string.Join(", ", valid.Keys)}" : "a listener is a block named after it";
            return new Problem(path, $"is not a known key ({listing})", []);
        }
        var best = near.Min(c => c.Distance);
        var nearest = near.Where(c => c.Distance == best).ToList();
        var sameLevel = nearest.Any(c => c.Here);
        var suggestions = nearest.Where(c => c.Here == sameLevel).Select(c => c.Path).Distinct().Take(3).ToList();
        var meant = string.Join(" or ", suggestions.Select(s => $"'{s}'"));
        return new Problem(path, sameLevel
            ? $"is not a known key; did you mean {meant}?"
            : $"is not a known key at this level; did you mean {meant}?", suggestions);
    }

    private static (Node Root, Node Listener, IReadOnlyList<Location> Locations) Build()
    {
        var section = ReferenceConfig.Default.Root.GetObject().Items[ShardRuntimeSettings.Section].GetObject();
        var defaults = FromObject(section.Items["listener-defaults"].GetObject());
        var listener = new Node { Children = new Dictionary<string, Node>(defaults.Children!, StringComparer.Ordinal) { [ListenerSettings.EndpointKey] = new Node() } };
        var root = FromObject(section);
        root.Children!["listeners"] = new Node { Entry = listener };

        var locations = new List<Location>();
        void Collect(Node node, string path)
        {
            foreach (var (key, child) in node.Children ?? [])
            {
                locations.Add(new Location(node, path, key));
                Collect(child, path + "." + key);
            }
            if (node.Entry is { } entry)
                Collect(entry, path + "." + ListenerPlaceholder);
        }
        Collect(root, ShardRuntimeSettings.Section);
        return (root, listener, locations);
    }

    private static Node FromObject(HoconObject block) => block.Items.Count == 0 ? new Node { Free = true } : new()
    {
        Children = block.Items.ToDictionary(
            kv => kv.Key,
            kv => kv.Value.IsObject() ? FromObject(kv.Value.GetObject()) : new Node(),
            StringComparer.Ordinal),
    };
}
