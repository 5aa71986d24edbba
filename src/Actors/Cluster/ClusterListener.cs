using System.Collections.Immutable;

namespace ShardRuntime.Actors.Cluster;

/// <summary>
/// One listener in the cluster-wide desired state (the value replicated by Akka.DistributedData, last writer wins per
/// listener). Every value left null leaves that aspect to each node's own configuration.
/// </summary>
/// <param name="Name">The listener's name (its key under <c>shard-runtime.listeners</c> on the nodes).</param>
/// <param name="Shards">Listening sockets per node, unless <paramref name="ShardsByRole"/> names one of the node's roles.</param>
/// <param name="ShardsByRole">Listening sockets per node of a role; a node with several listed roles takes the largest.</param>
/// <param name="Roles">The roles whose nodes serve the listener; empty: every node. Other nodes retire it.</param>
/// <param name="HandlerGeneration">
/// The listener's cluster-wide handler generation: raised by a rolling reload of the listener, or by
/// <see cref="ClusterListeners.SetListener"/> with <c>Reload</c>; a node that sees it rise reloads the listener's handler.
/// </param>
/// <param name="Definition">
/// The listener as a HOCON block (<c>endpoint = "0.0.0.0:9000", handler = echo</c>), read on each node over its own
/// listener-defaults and bind-address; null: each node's file defines it.
/// </param>
/// <param name="Removed">Removed cluster-wide: no node serves it, whatever its file says, until it is set again.</param>
/// <param name="GenerationRaisedAt">When <paramref name="HandlerGeneration"/> was last raised (by the writer's clock).</param>
/// <param name="ChangedBy">Address of the node where the last change was made.</param>
/// <param name="ChangedAt">When the last change was made.</param>
public sealed record ClusterListener(
    string Name,
    int? Shards,
    ImmutableSortedDictionary<string, int> ShardsByRole,
    ImmutableSortedSet<string> Roles,
    int HandlerGeneration,
    string? Definition,
    bool Removed,
    string ChangedBy,
    DateTimeOffset ChangedAt,
    DateTimeOffset GenerationRaisedAt = default) : IClusterMessage
{
    /// <summary>A listener the desired state does not hold yet: nothing set, generation 1.</summary>
    public static ClusterListener New(string name) =>
        new(name, null, ImmutableSortedDictionary<string, int>.Empty.WithComparers(StringComparer.Ordinal),
            ImmutableSortedSet<string>.Empty.WithComparer(StringComparer.Ordinal), 1, null, false, "", DateTimeOffset.MinValue);

    /// <summary>Whether a node with <paramref name="roles"/> serves this listener.</summary>
    public bool ServedBy(IReadOnlySet<string> roles) => !Removed && (Roles.IsEmpty || Roles.Any(roles.Contains));

    /// <summary>The shard count for a node with <paramref name="roles"/>, or null when its own configuration decides.</summary>
    public int? ShardsFor(IReadOnlySet<string> roles)
    {
        var byRole = ShardsByRole.Where(r => roles.Contains(r.Key)).Select(r => (int?)r.Value).Max();
        return byRole ?? Shards;
    }

    /// <summary>One line for logs and the CLI: what is set.</summary>
    public string Describe()
    {
        if (Removed) return "removed";
        var parts = new List<string>();
        if (Shards is { } shards) parts.Add($"{shards} shards per node");
        parts.AddRange(ShardsByRole.Select(r => $"{r.Value} on role {r.Key}"));
        parts.Add(Roles.IsEmpty ? "served by every node" : $"served by role {string.Join(", ", Roles)}");
        parts.Add($"handler generation {HandlerGeneration}");
        if (Definition is not null) parts.Add($"defined as {{ {Definition.ReplaceLineEndings(", ")} }}");
        return string.Join("; ", parts);
    }
}
