using ShardRuntime.Actors.Coordination;
using Akka.Actor;
using ShardRuntime.Actors.Cluster;
using ShardRuntime.Actors.Tests.Support;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Tests.Cluster;

/// <summary>The follower's decisions, without an ActorSystem: the desired state resolved for a node, and what the coordinator's answer means.</summary>
public sealed class FollowDecisionsSpecs
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);
    private static readonly IReadOnlySet<string> Edge = new HashSet<string>(["edge"], StringComparer.Ordinal);

    private static readonly IReadOnlyList<CoordinatorProtocol.ClusterOverride> Overrides =
        [new CoordinatorProtocol.ClusterOverride("api", true, 2, null, 1)];

    [Fact]
    public void Resolve_must_override_what_the_cluster_sets_for_this_nodes_roles()
    {
        ClusterListener[] desired =
        [
            ClusterListener.New("api") with { Shards = 2, ShardsByRole = ClusterListener.New("x").ShardsByRole.Add("edge", 6), HandlerGeneration = 3 },
            ClusterListener.New("core-only") with { Roles = ClusterListener.New("x").Roles.Add("core") },
            ClusterListener.New("gone") with { Removed = true },
        ];

        var (overrides, problems) = FollowDecisions.Resolve(desired, Edge, Specs.Settings(""));

        Assert.Empty(problems);
        Assert.Equal(
            [
                new CoordinatorProtocol.ClusterOverride("api", true, 6, null, 3),
                new CoordinatorProtocol.ClusterOverride("core-only", false, null, null, 1),
                new CoordinatorProtocol.ClusterOverride("gone", false, null, null, 1),
            ], overrides);
    }

    [Fact]
    public void Resolve_must_read_a_definition_over_the_nodes_settings_and_name_one_it_cannot_read()
    {
        ClusterListener[] desired =
        [
            ClusterListener.New("api") with { Definition = """endpoint = "127.0.0.1:0", handler = echo""" },
            ClusterListener.New("bad") with { Definition = """endpoint = "nowhere", handler = echo""" },
        ];

        var (overrides, problems) = FollowDecisions.Resolve(desired, Edge, Specs.Settings(""));

        var api = Assert.Single(overrides);
        Assert.Equal("api", api.Listener);
        Assert.True(api.Definition!.FromCluster);
        var problem = Assert.Single(problems);
        Assert.StartsWith("listener 'bad': ", problem);
        Assert.Contains("cluster.listeners.bad.endpoint", problem);
    }

    [Fact]
    public void The_coordinator_must_be_handed_the_state_unless_it_confirmed_exactly_that()
    {
        Assert.True(FollowDecisions.MustApply(null, []));
        Assert.False(FollowDecisions.MustApply([.. Overrides], Overrides));
        Assert.True(FollowDecisions.MustApply(Overrides, [Overrides[0] with { Shards = 3 }]));
        Assert.Equal("in sync", FollowDecisions.Unchanged([]));
        Assert.Equal("a; b", FollowDecisions.Unchanged(["a", "b"]));
    }

    [Fact]
    public void A_state_applied_in_full_must_be_in_sync_confirmed_and_reset_the_retry_delay()
    {
        var state = FollowerState.Initial(Interval) with { RetryDelay = Interval * 8, Following = "not following: x" };

        var outcome = FollowDecisions.AfterApply(state, Overrides, [], new CoordinatorProtocol.ClusterStateApplied([]), Interval);

        Assert.Equal("in sync", outcome.Next.Following);
        Assert.Same(Overrides, outcome.Next.Confirmed);
        Assert.True(outcome.Next.FollowedOnce);
        Assert.Equal(Interval, outcome.Next.RetryDelay);
        Assert.Null(outcome.RetryIn);
        Assert.Null(outcome.Refusal);
    }

    [Fact]
    public void A_state_applied_but_for_some_listeners_must_name_them_and_send_the_same_state_again_ever_less_often()
    {
        var state = FollowerState.Initial(Interval);

        var outcome = FollowDecisions.AfterApply(state, Overrides, ["listener 'x': bad"], new CoordinatorProtocol.ClusterStateApplied(["port 80 is taken"]), Interval);

        Assert.Equal("not following: listener 'x': bad; port 80 is taken", outcome.Next.Following);
        Assert.True(outcome.Next.FollowedOnce);
        Assert.Null(outcome.Next.Confirmed);
        Assert.Equal(Interval, outcome.RetryIn);
        Assert.Equal(Interval * 2, outcome.Next.RetryDelay);
        Assert.Equal(["listener 'x': bad", "port 80 is taken"], outcome.Problems);
    }

    [Fact]
    public void A_refused_state_must_say_why_keep_what_the_coordinator_confirmed_and_try_again()
    {
        var state = FollowerState.Initial(Interval) with { Confirmed = Overrides, FollowedOnce = true };
        var command = new CoordinatorProtocol.ApplyClusterState([]);

        var refused = FollowDecisions.AfterApply(state, [], [], new Status.Failure(new CommandFailedException(command, "the node is draining")), Interval);
        var silent = FollowDecisions.AfterApply(state, [], [], new Status.Failure(new AskTimeoutException("timed out")), Interval);

        Assert.Equal("not following the desired state: the node is draining", refused.Next.Following);
        Assert.Equal("the node is draining", refused.Refusal);
        Assert.Same(Overrides, refused.Next.Confirmed);
        Assert.Equal(Interval, refused.RetryIn);
        Assert.Equal("not following the desired state: timed out", silent.Next.Following);
    }

    [Fact]
    public void A_first_state_the_coordinator_refused_must_be_sent_again_even_when_it_is_empty()
    {
        var refused = FollowDecisions.AfterApply(FollowerState.Initial(Interval), [], [],
            new Status.Failure(new CommandFailedException(new CoordinatorProtocol.ApplyClusterState([]), "busy")), Interval);

        Assert.False(refused.Next.FollowedOnce);
        Assert.True(FollowDecisions.MustApply(refused.Next.Confirmed, []));
    }

    [Fact]
    public void The_retry_delay_must_double_up_to_thirty_times_the_interval()
    {
        var state = FollowerState.Initial(Interval);
        var delays = new List<TimeSpan>();
        for (var i = 0; i < 7; i++)
        {
            var outcome = FollowDecisions.AfterApply(state, Overrides, [], new CoordinatorProtocol.ClusterStateApplied(["x"]), Interval);
            delays.Add(outcome.RetryIn!.Value);
            state = outcome.Next;
        }

        Assert.Equal([1, 2, 4, 8, 16, 30, 30], delays.Select(d => d.TotalSeconds));
    }
}
