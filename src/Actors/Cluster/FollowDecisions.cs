using ShardRuntime.Actors.Coordination;
using Akka.Actor;
using Akka.Configuration;
using Akka.DistributedData;
using ShardRuntime.Actors.Settings;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Cluster;

/// <summary>What the follower (<see cref="ClusterFollowerActor"/>) knows between two messages.</summary>
/// <param name="Desired">This node's replica of the desired state.</param>
/// <param name="Confirmed">The overrides the coordinator last confirmed; null: none yet, or send them again.</param>
/// <param name="Following">How the node follows the desired state: <c>in sync</c>, or what stops it.</param>
/// <param name="FollowedOnce">The coordinator has applied a desired state once (<see cref="ClusterListeners.WaitUntilFollowing"/> is answered at once).</param>
/// <param name="RetryDelay">How long the next retry waits (doubled after each retry that did not help).</param>
/// <param name="Removed">Why this node is no longer a member (it serves on); null while it is one.</param>
internal sealed record FollowerState(
    LWWDictionary<string, ClusterListener> Desired,
    IReadOnlyList<CoordinatorProtocol.ClusterOverride>? Confirmed,
    string Following,
    bool FollowedOnce,
    TimeSpan RetryDelay,
    string? Removed)
{
    public static FollowerState Initial(TimeSpan retryInterval) =>
        new(LWWDictionary<string, ClusterListener>.Empty, null, FollowDecisions.InSync, false, retryInterval, null);
}

/// <summary>The coordinator's answer to <see cref="CoordinatorProtocol.ApplyClusterState"/> of these overrides, and the follower's next state.</summary>
/// <param name="Next">The follower's state after the answer.</param>
/// <param name="RetryIn">When to hand the state over again; null: no retry.</param>
/// <param name="Problems">The listeners the node does not follow (the answer was taken); null: the coordinator refused, see <paramref name="Refusal"/>.</param>
/// <param name="Refusal">Why the coordinator took nothing; null when it took the state.</param>
internal sealed record ApplyOutcome(FollowerState Next, TimeSpan? RetryIn, IReadOnlyList<string>? Problems, string? Refusal);

/// <summary>The follower's decisions, as pure functions: the desired state resolved for a node, and what an answer of the coordinator means.</summary>
internal static class FollowDecisions
{
    /// <summary>The <see cref="ClusterListeners.Following"/> state of a node that follows everything.</summary>
    public const string InSync = "in sync";

    /// <summary>The listeners of the desired state, ordered by name.</summary>
    public static List<ClusterListener> Sorted(LWWDictionary<string, ClusterListener> desired) =>
        desired.Entries.Values.OrderBy(l => l.Name, StringComparer.Ordinal).ToList();

    /// <summary>
    /// The desired state as it applies to a node with <paramref name="roles"/> and <paramref name="settings"/> (its
    /// listener-defaults and bind-address), and the listeners it cannot follow (a definition its settings reject).
    /// </summary>
    public static (List<CoordinatorProtocol.ClusterOverride> Overrides, List<string> Problems) Resolve(
        IEnumerable<ClusterListener> desired, IReadOnlySet<string> roles, ShardRuntimeSettings settings)
    {
        var overrides = new List<CoordinatorProtocol.ClusterOverride>();
        var problems = new List<string>();
        foreach (var entry in desired)
        {
            if (!entry.ServedBy(roles))
            {
                overrides.Add(new CoordinatorProtocol.ClusterOverride(entry.Name, false, null, null, entry.HandlerGeneration, entry.GenerationRaisedAt));
                continue;
            }
            ListenerSettings? definition = null;
            if (entry.Definition is not null)
            {
                try
                {
                    definition = ReadDefinition(settings, entry.Name, entry.Definition);
                }
                catch (ShardRuntimeConfigurationException e)
                {
                    problems.Add($"listener '{entry.Name}': {e.Message}");
                    continue;
                }
            }
            overrides.Add(new CoordinatorProtocol.ClusterOverride(entry.Name, true, entry.ShardsFor(roles), definition, entry.HandlerGeneration, entry.GenerationRaisedAt));
        }
        return (overrides, problems);
    }

    /// <summary>A listener's cluster-wide HOCON definition read over the node's own settings; a refusal names <c>cluster.listeners.NAME</c>.</summary>
    public static ListenerSettings ReadDefinition(ShardRuntimeSettings settings, string name, string hocon)
    {
        var path = $"cluster.listeners.{name}";
        if (HoconSyntax.FindError(hocon) is { } error)
            throw new ShardRuntimeConfigurationException(path, $"is not valid HOCON: {error}");
        Config block;
        try
        {
            block = ConfigurationFactory.ParseString(hocon);
        }
        catch (Exception e)
        {
            throw new ShardRuntimeConfigurationException(path, $"is not valid HOCON: {e.Message}");
        }
        // Code from the cluster: its handler-assembly must lie in this node's handler-directories (checked where it loads).
        return settings.ReadListener(name, block, path) with { FromCluster = true };
    }

    /// <summary>Whether the coordinator must be handed <paramref name="overrides"/> (it has not confirmed exactly these).</summary>
    public static bool MustApply(IReadOnlyList<CoordinatorProtocol.ClusterOverride>? confirmed, IReadOnlyList<CoordinatorProtocol.ClusterOverride> overrides) =>
        confirmed is null || !overrides.SequenceEqual(confirmed);

    /// <summary>The following state when the coordinator has the overrides already: in sync but for the listeners the node cannot read.</summary>
    public static string Unchanged(IReadOnlyList<string> problems) => problems.Count == 0 ? InSync : string.Join("; ", problems);

    /// <summary>
    /// What the coordinator's <paramref name="answer"/> to the overrides means: applied (but for the listeners in
    /// <paramref name="problems"/> and its own problems; those are tried again after the retry delay, as a port may be
    /// freed), or refused (tried again after the retry delay). The delay doubles after each retry, up to 30 times
    /// <paramref name="retryInterval"/>, and is back to it once everything is followed.
    /// </summary>
    public static ApplyOutcome AfterApply(
        FollowerState state, IReadOnlyList<CoordinatorProtocol.ClusterOverride> overrides, IReadOnlyList<string> problems, object answer, TimeSpan retryInterval)
    {
        var doubled = TimeSpan.FromTicks(Math.Min(state.RetryDelay.Ticks * 2, retryInterval.Ticks * 30));
        if (answer is CoordinatorProtocol.ClusterStateApplied done)
        {
            var all = problems.Concat(done.Problems).ToList();
            var following = all.Count == 0 ? InSync : $"not following: {string.Join("; ", all)}";
            var applied = state with { Confirmed = overrides, FollowedOnce = true, Following = following };
            return done.Problems.Count > 0
                ? new ApplyOutcome(applied with { Confirmed = null, RetryDelay = doubled }, state.RetryDelay, all, null) // send the same state again
                : new ApplyOutcome(applied with { RetryDelay = retryInterval }, null, all, null);
        }
        var reason = answer switch
        {
            _ when CommandFailedException.In(answer) is { } failed => failed.Reason,
            Status.Failure failure => failure.Cause.Message,
            var other => $"unexpected answer {other.GetType().Name}",
        };
        var refused = state with { Following = $"not following the desired state: {reason}", RetryDelay = doubled };
        return new ApplyOutcome(refused, state.RetryDelay, null, reason);
    }
}
