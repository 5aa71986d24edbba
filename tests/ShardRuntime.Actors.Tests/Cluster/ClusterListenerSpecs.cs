using System.Collections.Immutable;
using ShardRuntime.Actors.Cluster;

namespace ShardRuntime.Actors.Tests.Cluster;

public sealed class ClusterListenerSpecs
{
    private static IReadOnlySet<string> Node(params string[] roles) => roles.ToHashSet(StringComparer.Ordinal);

    private static ClusterListener Listener(int? shards = null, string[]? roles = null, (string Role, int Shards)[]? byRole = null) =>
        ClusterListener.New("api") with
        {
            Shards = shards,
            Roles = ImmutableSortedSet.Create(StringComparer.Ordinal, roles ?? []),
            ShardsByRole = ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal,
                (byRole ?? []).Select(r => KeyValuePair.Create(r.Role, r.Shards))),
        };

    [Fact]
    public void A_new_listener_must_set_nothing_and_start_at_handler_generation_1()
    {
        var listener = ClusterListener.New("api");

        Assert.Equal("api", listener.Name);
        Assert.Null(listener.Shards);
        Assert.Empty(listener.ShardsByRole);
        Assert.Empty(listener.Roles);
        Assert.Equal(1, listener.HandlerGeneration);
        Assert.Null(listener.Definition);
        Assert.False(listener.Removed);
        Assert.Null(listener.ShardsFor(Node("edge")));
        Assert.True(listener.ServedBy(Node()));
    }

    [Fact]
    public void A_listener_without_roles_must_be_served_by_every_node()
    {
        var listener = Listener();

        Assert.True(listener.ServedBy(Node()));
        Assert.True(listener.ServedBy(Node("edge")));
    }

    [Fact]
    public void A_listener_with_roles_must_be_served_only_by_nodes_with_one_of_them()
    {
        var listener = Listener(roles: ["edge", "ingest"]);

        Assert.True(listener.ServedBy(Node("edge")));
        Assert.True(listener.ServedBy(Node("core", "ingest")));
        Assert.False(listener.ServedBy(Node("core")));
        Assert.False(listener.ServedBy(Node()));
        Assert.False(listener.ServedBy(Node("Edge"))); // roles are compared as written
    }

    [Fact]
    public void A_removed_listener_must_be_served_by_no_node()
    {
        Assert.False((Listener() with { Removed = true }).ServedBy(Node()));
        Assert.False((Listener(roles: ["edge"]) with { Removed = true }).ServedBy(Node("edge")));
    }

    [Fact]
    public void Shards_must_be_the_per_node_count_unless_a_role_of_the_node_has_its_own()
    {
        var listener = Listener(shards: 2, byRole: [("edge", 6), ("big", 8), ("small", 1)]);

        Assert.Equal(2, listener.ShardsFor(Node()));
        Assert.Equal(2, listener.ShardsFor(Node("core")));
        Assert.Equal(6, listener.ShardsFor(Node("edge", "core")));
        // Only a by-role count below the per-node count still wins: the node's role names it.
        Assert.Equal(1, listener.ShardsFor(Node("small")));
    }

    [Fact]
    public void A_node_with_several_listed_roles_must_take_the_largest_count()
    {
        var listener = Listener(shards: 2, byRole: [("edge", 6), ("big", 8), ("small", 1)]);

        Assert.Equal(8, listener.ShardsFor(Node("edge", "big", "small")));
        Assert.Equal(6, listener.ShardsFor(Node("small", "edge")));
    }

    [Fact]
    public void A_node_whose_roles_set_no_count_must_be_left_to_its_own_configuration_when_no_per_node_count_is_set()
    {
        var listener = Listener(byRole: [("edge", 6)]);

        Assert.Null(listener.ShardsFor(Node("core")));
        Assert.Equal(6, listener.ShardsFor(Node("edge")));
    }

    [Fact]
    public void Describe_must_name_everything_that_is_set()
    {
        var listener = Listener(shards: 3, roles: ["edge", "core"], byRole: [("edge", 6)]) with
        {
            HandlerGeneration = 4,
            Definition = "endpoint = \"0.0.0.0:9000\"\nhandler = echo",
        };

        Assert.Equal(
            "3 shards per node; 6 on role edge; served by role core, edge; handler generation 4; defined as { endpoint = \"0.0.0.0:9000\", handler = echo }",
            listener.Describe());
    }

    [Fact]
    public void Describe_of_a_listener_with_nothing_set_must_say_every_node_serves_it()
    {
        Assert.Equal("served by every node; handler generation 1", ClusterListener.New("api").Describe());
    }

    [Fact]
    public void Describe_of_a_removed_listener_must_say_only_that()
    {
        Assert.Equal("removed", (Listener(shards: 3, roles: ["edge"]) with { Removed = true }).Describe());
    }
}
