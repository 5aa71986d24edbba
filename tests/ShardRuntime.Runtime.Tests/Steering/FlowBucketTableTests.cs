using ShardRuntime.Runtime.Sockets;

namespace ShardRuntime.Runtime.Tests.Steering;

public sealed class FlowBucketTableTests
{
    [Fact]
    public void A_member_that_leaves_must_hand_over_only_its_own_buckets_evenly()
    {
        string[] members = ["a", "b", "c", "d"];
        var table = new FlowBucketTable<string>(64, members);
        Assert.All(members, m => Assert.Equal(16, table.CountOf(m)));
        var before = table.Owners.ToArray();

        table.Exclude("b", ["a", "c", "d"]);

        for (int b = 0; b < 64; b++)
        {
            if (before[b] != "b")
            {
                Assert.Same(before[b], table.Owners[b]);
            }
        }

        Assert.Equal(0, table.CountOf("b"));
        Assert.All(new[] { "a", "c", "d" }, m => Assert.InRange(table.CountOf(m), 21, 22));
    }

    [Fact]
    public void A_member_that_joins_must_take_its_share_from_the_most_loaded_and_move_nothing_else()
    {
        var table = new FlowBucketTable<string>(64, ["a", "b"]);
        table.Exclude("b", ["a"]);
        table.Include("c");
        var before = table.Owners.ToArray();
        Assert.Equal(32, table.CountOf("a"));
        Assert.Equal(32, table.CountOf("c"));

        table.Include("d");
        Assert.Equal(21, table.CountOf("d"));
        for (int b = 0; b < 64; b++)
        {
            Assert.True(table.Owners[b] == before[b] || table.Owners[b] == "d", $"bucket {b} moved from {before[b]} to {table.Owners[b]}");
        }

        Assert.InRange(table.CountOf("a"), 21, 22);
        Assert.InRange(table.CountOf("c"), 21, 22);
        table.Include("d");
        Assert.Equal(21, table.CountOf("d"));
    }

    [Fact]
    public void An_empty_table_must_give_its_first_member_everything_and_refuse_an_exclusion_with_nobody_to_take_over()
    {
        var table = new FlowBucketTable<string>(8, []);
        Assert.All(table.Owners, Assert.Null);
        table.Include("a");
        Assert.Equal(8, table.CountOf("a"));
        Assert.Contains("at least one", Assert.Throws<ArgumentException>(() => table.Exclude("a", [])).Message);
        Assert.Contains("at least one", Assert.Throws<ArgumentException>(() => table.Exclude("a", ["a"])).Message);
    }
}
