using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using ShardRuntime.Actors.Settings;

namespace ShardRuntime.Actors.Cluster;

/// <summary>One rolling reload as it runs: who asked, the nodes in order, and what each visited node answered.</summary>
/// <param name="Id">Tells this run's answers and timer from an earlier run's.</param>
/// <param name="Request">The operator's request.</param>
/// <param name="ReplyTo">Who hears the report.</param>
/// <param name="Nodes">Every Up node, in address order.</param>
/// <param name="Generation">The listener's next cluster-wide handler generation; null for every listener.</param>
/// <param name="Steps">One per node visited so far.</param>
internal sealed record RollingReloadRun(
    int Id, ClusterListeners.RollingReload Request, IActorRef ReplyTo, IReadOnlyList<Address> Nodes, int? Generation,
    ImmutableList<ClusterListeners.NodeReloadStep> Steps)
{
    /// <summary>The node whose turn it is; null when every node has had its turn.</summary>
    public Address? Current => Steps.Count < Nodes.Count ? Nodes[Steps.Count] : null;
}

/// <summary>The rolling reload's decisions (<see cref="RollingReloadActor"/>), as pure functions: whether one may start, on which nodes, what a node's answer means, the report.</summary>
internal static class RollingReloadDecisions
{
    /// <summary>Why a rolling reload may not start now: this node was removed, a member is unreachable or still joining, or the listener's name is bad. Null: it may.</summary>
    public static string? Refusal(ClusterListeners.RollingReload reload, string? removed, IReadOnlyList<ClusterMember> members)
    {
        if (removed is not null) return removed;
        if (members.Where(m => !m.Reachable).ToList() is { Count: > 0 } unreachable)
            return $"node(s) {ClusterMember.List(unreachable)} are unreachable; a rolling reload needs every node";
        if (members.Where(m => m.Status is MemberStatus.Joining or MemberStatus.WeaklyUp).ToList() is { Count: > 0 } joining)
            return $"node(s) {ClusterMember.List(joining)} are still joining; a rolling reload visits every node, so try again once they are up";
        if (reload.Listener is null) return null;
        try
        {
            ListenerSettings.ValidateName(reload.Listener, "listener");
            return null;
        }
        catch (ShardRuntimeConfigurationException e)
        {
            return e.Message;
        }
    }

    /// <summary>The nodes a rolling reload visits, in the order it visits them: every Up member, by address.</summary>
    public static IReadOnlyList<Address> Nodes(IReadOnlyList<ClusterMember> members) =>
        members.Where(m => m.Status is MemberStatus.Up or MemberStatus.WeaklyUp)
            .Select(m => m.Address).OrderBy(a => a.ToString(), StringComparer.Ordinal).ToList();

    /// <summary>The generation a rolling reload of <paramref name="listener"/> raises it to: one above the desired state's (1 when it holds none). Null for every listener.</summary>
    public static int? NextGeneration(string? listener, ClusterListener? current) =>
        listener is null ? null : (current?.HandlerGeneration ?? 1) + 1;

    /// <summary>
    /// The run after <paramref name="answer"/> from the current node (asked within <paramref name="askTimeout"/>), and
    /// why it stops there (null: it goes on to the next node).
    /// </summary>
    public static (RollingReloadRun Run, string? Failure) Answered(RollingReloadRun run, object answer, TimeSpan askTimeout)
    {
        var node = run.Current?.ToString() ?? throw new InvalidOperationException("every node of the rolling reload has answered");
        var (step, failure) = answer switch
        {
            ClusterListeners.NodeReloaded done => (
                new ClusterListeners.NodeReloadStep(node, done.Served ? "reloaded" : "not served", done.Generations, Math.Round(done.Seconds, 3), null), null),
            ClusterListeners.NodeReloadFailed failed => (
                new ClusterListeners.NodeReloadStep(node, "failed", failed.Generations, null, failed.Reason), $"node {node} failed: {failed.Reason}"),
            Status.Failure { Cause: AskTimeoutException } => (
                new ClusterListeners.NodeReloadStep(node, "failed", [], null, $"no answer within {askTimeout}"), $"node {node} did not answer within {askTimeout}"),
            var other => Failed(node, other is Status.Failure f ? f.Cause.Message : $"unexpected answer {other.GetType().Name}"),
        };
        return (run with { Steps = run.Steps.Add(step) }, failure);

        static (ClusterListeners.NodeReloadStep, string) Failed(string node, string reason) =>
            (new ClusterListeners.NodeReloadStep(node, "failed", [], null, reason), $"node {node} failed: {reason}");
    }

    /// <summary>The run when the whole rolling reload ran out of <paramref name="timeout"/> during the current node's turn, and why it stops.</summary>
    public static (RollingReloadRun Run, string Failure) TimedOut(RollingReloadRun run, TimeSpan timeout)
    {
        var node = run.Current?.ToString() ?? "?";
        var step = new ClusterListeners.NodeReloadStep(node, "unfinished", [], null, $"still reloading when the rolling reload ran out of time ({timeout})");
        return (run with { Steps = run.Steps.Add(step) },
            $"the rolling reload did not finish within {timeout} (cluster.rolling-reload.timeout); node {node} was still reloading");
    }

    /// <summary>The report of a finished run: every node's step (those not visited: <c>not started</c>); a run of one listener that no node serves did not complete.</summary>
    public static ClusterListeners.RollingReloadReport Report(RollingReloadRun run, string? failure)
    {
        if (failure is null && run.Request.Listener is { } listener && run.Steps.All(s => s.Outcome == "not served"))
            failure = $"no node serves listener '{listener}'";
        var steps = run.Steps.Concat(run.Nodes.Skip(run.Steps.Count).Select(n => new ClusterListeners.NodeReloadStep(n.ToString(), "not started", [], null, null))).ToList();
        return new ClusterListeners.RollingReloadReport(run.Request.Listener, failure is null, steps, failure);
    }
}
