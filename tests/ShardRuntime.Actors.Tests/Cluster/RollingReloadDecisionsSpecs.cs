using Akka.Actor;
using Akka.Cluster;
using ShardRuntime.Actors.Cluster;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Tests.Cluster;

/// <summary>The rolling reload's decisions, without an ActorSystem: when one may start, which node it takes next, what each answer means, the report.</summary>
public sealed class RollingReloadDecisionsSpecs
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(40);

    private static ClusterMember Member(string host, MemberStatus status = MemberStatus.Up, bool reachable = true) =>
        new(new Address("akka.tcp", "sys", host, 2551), status, [], reachable);

    private static RollingReloadRun Run(string? listener, params string[] hosts) =>
        new(1, new ClusterListeners.RollingReload(listener), ActorRefs.Nobody, RollingReloadDecisions.Nodes(hosts.Select(h => Member(h)).ToList()), null, []);

    private static ClusterListeners.NodeReloaded Reloaded(int generation) => new([new CoordinatorProtocol.ListenerGeneration("api", generation)], 1.23456);

    [Fact]
    public void A_rolling_reload_must_be_refused_on_a_removed_node_and_while_a_member_is_unreachable_or_joining()
    {
        var reload = new ClusterListeners.RollingReload("api");
        ClusterMember[] up = [Member("10.0.0.1"), Member("10.0.0.2")];

        Assert.Null(RollingReloadDecisions.Refusal(reload, null, up));
        Assert.Equal("removed", RollingReloadDecisions.Refusal(reload, "removed", [up[0], Member("10.0.0.2", reachable: false)]));
        Assert.Equal("node(s) akka.tcp://sys@10.0.0.2:2551 are unreachable; a rolling reload needs every node",
            RollingReloadDecisions.Refusal(reload, null, [up[0], Member("10.0.0.2", MemberStatus.Joining, reachable: false)]));
        Assert.Equal("node(s) akka.tcp://sys@10.0.0.2:2551, akka.tcp://sys@10.0.0.3:2551 are still joining; a rolling reload visits every node, so try again once they are up",
            RollingReloadDecisions.Refusal(reload, null, [up[0], Member("10.0.0.2", MemberStatus.Joining), Member("10.0.0.3", MemberStatus.WeaklyUp)]));
        Assert.Contains("letters, digits", RollingReloadDecisions.Refusal(new ClusterListeners.RollingReload("a b"), null, up));
        Assert.Null(RollingReloadDecisions.Refusal(new ClusterListeners.RollingReload(null), null, up));
    }

    [Fact]
    public void A_rolling_reload_must_visit_the_up_members_in_address_order()
    {
        var nodes = RollingReloadDecisions.Nodes([Member("10.0.0.3"), Member("10.0.0.1"), Member("10.0.0.2", MemberStatus.Leaving), Member("10.0.0.4", MemberStatus.Exiting)]);

        Assert.Equal(["10.0.0.1", "10.0.0.3"], nodes.Select(n => n.Host));
    }

    [Fact]
    public void A_rolling_reload_of_one_listener_must_raise_its_desired_generation_by_one()
    {
        Assert.Equal(2, RollingReloadDecisions.NextGeneration("api", null));
        Assert.Equal(5, RollingReloadDecisions.NextGeneration("api", ClusterListener.New("api") with { HandlerGeneration = 4 }));
        Assert.Null(RollingReloadDecisions.NextGeneration(null, ClusterListener.New("api")));
    }

    [Fact]
    public void Each_node_must_have_its_turn_only_after_the_previous_one_reloaded()
    {
        var run = Run("api", "10.0.0.2", "10.0.0.1");
        Assert.Equal("10.0.0.1", run.Current!.Host);

        (run, var failure) = RollingReloadDecisions.Answered(run, Reloaded(2), AskTimeout);
        Assert.Null(failure);
        Assert.Equal("10.0.0.2", run.Current!.Host);

        (run, failure) = RollingReloadDecisions.Answered(run, new ClusterListeners.NodeReloaded([], 0.5, Served: false), AskTimeout);
        Assert.Null(failure);
        Assert.Null(run.Current);
        Assert.Equal(["reloaded", "not served"], run.Steps.Select(s => s.Outcome));
        Assert.Equal(1.235, run.Steps[0].Seconds);

        var report = RollingReloadDecisions.Report(run, failure);
        Assert.True(report.Completed);
        Assert.Null(report.Failure);
        Assert.Equal("api", report.Listener);
    }

    [Fact]
    public void The_first_node_that_fails_must_stop_the_rolling_reload_and_the_rest_must_not_start()
    {
        var run = Run(null, "10.0.0.1", "10.0.0.2", "10.0.0.3");
        (run, _) = RollingReloadDecisions.Answered(run, Reloaded(2), AskTimeout);

        var (failed, failure) = RollingReloadDecisions.Answered(run, new ClusterListeners.NodeReloadFailed("the handler did not load", []), AskTimeout);

        Assert.Equal("node akka.tcp://sys@10.0.0.2:2551 failed: the handler did not load", failure);
        var report = RollingReloadDecisions.Report(failed, failure);
        Assert.False(report.Completed);
        Assert.Equal(["reloaded", "failed", "not started"], report.Nodes.Select(s => s.Outcome));
        Assert.Equal("the handler did not load", report.Nodes[1].Reason);
    }

    [Fact]
    public void A_node_that_does_not_answer_or_answers_something_else_must_fail_its_turn()
    {
        var run = Run(null, "10.0.0.1");

        var (_, silent) = RollingReloadDecisions.Answered(run, new Status.Failure(new AskTimeoutException("late")), AskTimeout);
        var (odd, other) = RollingReloadDecisions.Answered(run, "hello", AskTimeout);

        Assert.Equal("node akka.tcp://sys@10.0.0.1:2551 did not answer within 00:00:40", silent);
        Assert.Equal("node akka.tcp://sys@10.0.0.1:2551 failed: unexpected answer String", other);
        Assert.Equal("failed", Assert.Single(odd.Steps).Outcome);
    }

    [Fact]
    public void A_rolling_reload_that_runs_out_of_time_must_mark_the_node_in_its_turn_unfinished()
    {
        var run = Run(null, "10.0.0.1", "10.0.0.2");

        var (last, failure) = RollingReloadDecisions.TimedOut(run, TimeSpan.FromMinutes(5));

        Assert.Equal("the rolling reload did not finish within 00:05:00 (cluster.rolling-reload.timeout); node akka.tcp://sys@10.0.0.1:2551 was still reloading", failure);
        Assert.Equal(["unfinished", "not started"], RollingReloadDecisions.Report(last, failure).Nodes.Select(s => s.Outcome));
    }

    [Fact]
    public void A_rolling_reload_of_a_listener_no_node_serves_must_not_complete()
    {
        var run = Run("nope", "10.0.0.1");
        (run, _) = RollingReloadDecisions.Answered(run, new ClusterListeners.NodeReloaded([], 0.1, Served: false), AskTimeout);

        var report = RollingReloadDecisions.Report(run, null);

        Assert.False(report.Completed);
        Assert.Equal("no node serves listener 'nope'", report.Failure);
        Assert.True(RollingReloadDecisions.Report(Run(null, "10.0.0.1") with { Steps = run.Steps }, null).Completed);
    }
}
