using ShardRuntime.Actors.Coordination;
using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;
using ShardRuntime.Actors.Settings;

namespace ShardRuntime.Actors.Cluster;

/// <summary>What a change does to one listener's entry in the desired state.</summary>
internal abstract record ListenerChange
{
    private ListenerChange() { }

    /// <summary>Shards per node (which drops the per-role counts), or on the nodes of <paramref name="Role"/> only.</summary>
    public sealed record Scale(int Shards, string? Role) : ListenerChange;

    /// <summary>What is given (null leaves it); <paramref name="Reload"/> raises the handler generation; a removed listener comes back.</summary>
    public sealed record Set(string? Definition, int? Shards, IReadOnlyList<string>? Roles, bool Reload) : ListenerChange;

    /// <summary>Removed cluster-wide.</summary>
    public sealed record Remove : ListenerChange;

    /// <summary>The handler generation every node now runs (after a rolling reload); never lowered.</summary>
    public sealed record RecordGeneration(int Generation) : ListenerChange;
}

/// <summary>
/// One change on its way through the replicator: the request context of its Get and Update, which comes back with each
/// response. Immutable: every step makes a new one.
/// </summary>
/// <param name="Command">What the requester asked (named in a refusal).</param>
/// <param name="ReplyTo">Who hears the outcome.</param>
/// <param name="Listener">The listener whose entry changes.</param>
/// <param name="Change">What the change does to the entry.</param>
/// <param name="At">When it was asked (the writer's clock): the entry's <c>ChangedAt</c>, and <c>GenerationRaisedAt</c> when it raises the generation.</param>
/// <param name="RequireKnown">Refused unless this node's coordinator or the desired state knows the listener.</param>
/// <param name="RefuseRemoved">Refused when the desired state marks the listener removed.</param>
/// <param name="Report">For a rolling reload's generation: the report that is the reply; null: <see cref="ClusterListeners.ListenerChanged"/>.</param>
/// <param name="Nodes">The members counted when it was written.</param>
/// <param name="All">Written to every node (else to a majority).</param>
/// <param name="Spread">The second write (to a majority, after every node did not confirm in time): spreads the replica as it is.</param>
internal sealed record WriteRequest(
    ClusterListeners.ICommand Command, IActorRef ReplyTo, string Listener, ListenerChange Change, DateTimeOffset At,
    bool RequireKnown = false, bool RefuseRemoved = false, ClusterListeners.RollingReloadReport? Report = null,
    int Nodes = 0, bool All = false, bool Spread = false);

/// <summary>How a write goes on after the replicator's answer to its Update.</summary>
internal abstract record UpdateOutcome
{
    private UpdateOutcome() { }

    /// <summary>Stored by <see cref="WriteRequest.All"/> or a majority.</summary>
    public sealed record Stored : UpdateOutcome;

    /// <summary>Write it again, as <paramref name="Request"/> says.</summary>
    public sealed record Again(WriteRequest Request) : UpdateOutcome;

    /// <summary>Not stored, or not confirmed; <paramref name="Reason"/> says which.</summary>
    public sealed record Failed(string Reason) : UpdateOutcome;
}

/// <summary>The writer's decisions (<see cref="ClusterWriterActor"/>), as pure functions: refusals, the change to an entry, the consistency, the reply.</summary>
internal static class WriteDecisions
{
    /// <summary>The request for an operator's change, or why it is refused before anything is read (checks in the order the requester sees them).</summary>
    public static (WriteRequest? Request, string? Refusal) Request(
        ClusterListeners.ICommand command, IActorRef replyTo, DateTimeOffset at, IReadOnlyList<ClusterMember> members, ShardRuntimeSettings settings)
    {
        (string Listener, ListenerChange Change, bool RequireKnown, bool RefuseRemoved, string? Refusal) checkedCommand = command switch
        {
            ClusterListeners.ScaleListener scale => (scale.Listener, new ListenerChange.Scale(scale.Shards, scale.Role), true, true, ScaleRefusal(scale, members)),
            ClusterListeners.SetListener set => (set.Listener, new ListenerChange.Set(set.Definition, set.Shards, set.Roles, set.Reload),
                set.Definition is null, false, SetRefusal(set, settings)),
            ClusterListeners.RemoveListener remove => (remove.Listener, new ListenerChange.Remove(), true, false, null),
            _ => throw new ArgumentException($"{command.GetType().Name} is not a change of the desired state", nameof(command)),
        };
        var (listener, change, requireKnown, refuseRemoved, refusal) = checkedCommand;
        refusal ??= NameRefusal(listener);
        return refusal is not null
            ? (null, refusal)
            : (new WriteRequest(command, replyTo, listener, change, at, requireKnown, refuseRemoved), null);
    }

    private static string? ScaleRefusal(ClusterListeners.ScaleListener scale, IReadOnlyList<ClusterMember> members)
    {
        if (ListenerSettings.ShardCountRefusal(scale.Listener, scale.Shards) is { } badCount) return badCount;
        if (scale.Role is null) return null;
        if (string.IsNullOrWhiteSpace(scale.Role)) return "the role must not be empty";
        if (members.Any(m => m.Roles.Contains(scale.Role))) return null;
        var roles = members.SelectMany(m => m.Roles).Distinct().Order(StringComparer.Ordinal).ToList();
        return $"no node has role '{scale.Role}' (roles: {(roles.Count == 0 ? "none" : string.Join(", ", roles))}); nothing was written";
    }

    private static string? SetRefusal(ClusterListeners.SetListener set, ShardRuntimeSettings settings)
    {
        if (set.Shards is { } shards && ListenerSettings.ShardCountRefusal(set.Listener, shards) is { } badCount) return badCount;
        if (set.Roles is not null && set.Roles.Any(string.IsNullOrWhiteSpace)) return "a role must not be empty";
        if (set.Definition is null) return null;
        try
        {
            FollowDecisions.ReadDefinition(settings, set.Listener, set.Definition);
            return null;
        }
        catch (ShardRuntimeConfigurationException e)
        {
            return e.Message;
        }
    }

    private static string? NameRefusal(string listener)
    {
        try
        {
            ListenerSettings.ValidateName(listener, "listener");
            return null;
        }
        catch (ShardRuntimeConfigurationException e)
        {
            return e.Message;
        }
    }

    /// <summary>Why the desired state as this node holds it refuses the change (a removed listener it scales); null: it does not.</summary>
    public static string? RemovedRefusal(WriteRequest request, LWWDictionary<string, ClusterListener> desired) =>
        request.RefuseRemoved && desired.TryGetValue(request.Listener, out var current) && current.Removed
            ? $"listener '{request.Listener}' was removed cluster-wide; `listener set {request.Listener}` brings it back"
            : null;

    /// <summary>
    /// Why a change of a listener nobody knows is refused: <paramref name="coordinatorListeners"/> are this node's
    /// (null: its coordinator did not answer within <paramref name="timeout"/>), <paramref name="desired"/> the desired state's.
    /// </summary>
    public static string? UnknownRefusal(WriteRequest request, IReadOnlyList<string>? coordinatorListeners, IReadOnlyCollection<string> desired, TimeSpan timeout)
    {
        if (coordinatorListeners is null)
            return $"this node's coordinator did not answer within {timeout}, so '{request.Listener}' could not be checked; nothing was written";
        if (coordinatorListeners.Contains(request.Listener) || desired.Contains(request.Listener))
            return null;
        var names = coordinatorListeners.Concat(desired).Distinct().Order(StringComparer.Ordinal);
        return $"no listener named '{request.Listener}' on this node nor in the cluster's desired state (listeners: {string.Join(", ", names)}); " +
               "`listener set NAME --definition ...` defines one cluster-wide";
    }

    /// <summary>
    /// How a change is written: to every member (Up, WeaklyUp, Leaving) when all are reachable, else to a majority;
    /// refused while this node is not up, or when fewer than a majority are reachable (DistributedData would otherwise
    /// keep the change here and spread it later, unconfirmed).
    /// </summary>
    public static (WriteRequest? Request, string? Refusal) Consistency(
        WriteRequest request, IReadOnlyList<ClusterMember> members, Address self, MemberStatus selfStatus)
    {
        var nodes = members.Where(m => m.Status is MemberStatus.Up or MemberStatus.WeaklyUp or MemberStatus.Leaving).ToList();
        if (nodes.All(m => !m.Address.Equals(self)))
            return (null, $"this node is not up in the cluster yet ({selfStatus}); nothing was written");
        var unreachable = nodes.Where(m => !m.Reachable).ToList();
        var majority = nodes.Count / 2 + 1;
        if (nodes.Count - unreachable.Count < majority)
            return (null, $"only {nodes.Count - unreachable.Count} of {nodes.Count} nodes are reachable (unreachable: {ClusterMember.List(unreachable)}); " +
                          $"a change must reach a majority ({majority}): nothing was written");
        return (request with { Nodes = nodes.Count, All = unreachable.Count == 0 }, null);
    }

    /// <summary>The entry after <paramref name="change"/>, made by <paramref name="writer"/> at <paramref name="at"/>.</summary>
    public static ClusterListener Apply(ClusterListener before, ListenerChange change, string writer, DateTimeOffset at)
    {
        var after = change switch
        {
            ListenerChange.Scale { Role: null } scale => before with { Shards = scale.Shards, ShardsByRole = before.ShardsByRole.Clear() },
            ListenerChange.Scale scale => before with { ShardsByRole = before.ShardsByRole.SetItem(scale.Role, scale.Shards) },
            ListenerChange.Set set => before with
            {
                Definition = set.Definition ?? before.Definition,
                Shards = set.Shards ?? before.Shards,
                Roles = set.Roles is null ? before.Roles : before.Roles.Clear().Union(set.Roles),
                HandlerGeneration = before.HandlerGeneration + (set.Reload ? 1 : 0),
                GenerationRaisedAt = set.Reload ? at : before.GenerationRaisedAt,
                Removed = false,
            },
            ListenerChange.Remove => before with { Removed = true },
            ListenerChange.RecordGeneration raise when before.HandlerGeneration >= raise.Generation => before,
            ListenerChange.RecordGeneration raise => before with { HandlerGeneration = raise.Generation, GenerationRaisedAt = at },
            _ => throw new ArgumentException($"unknown change {change.GetType().Name}", nameof(change)),
        };
        return after with { ChangedBy = writer, ChangedAt = at };
    }

    /// <summary>
    /// The replicator's modify function of a write: the desired state with the request's change made by
    /// <paramref name="self"/>; for the second write of a change, the state as it is (this replica has the change, and a
    /// new timestamp could overwrite a later change of another node that this replica has not merged yet).
    /// </summary>
    public static LWWDictionary<string, ClusterListener> Modify(LWWDictionary<string, ClusterListener> desired, WriteRequest request, UniqueAddress self)
    {
        if (request.Spread) return desired;
        var before = desired.TryGetValue(request.Listener, out var existing) ? existing : ClusterListener.New(request.Listener);
        return desired.SetItem(self, request.Listener, Apply(before, request.Change, self.Address.ToString(), request.At));
    }

    /// <summary>
    /// What the replicator's answer to a write means: when every node did not confirm in time, a majority must, so it is
    /// written again (spread, not made again: a raised generation is raised once); a majority that did not confirm in
    /// <paramref name="timeout"/> is reported as exactly that.
    /// </summary>
    public static UpdateOutcome AfterUpdate(WriteRequest request, IUpdateResponse response, TimeSpan timeout) => response switch
    {
        UpdateTimeout when request.All => new UpdateOutcome.Again(request with { All = false, Spread = true }),
        UpdateSuccess => new UpdateOutcome.Stored(),
        UpdateTimeout => new UpdateOutcome.Failed(
            $"the change is stored on this node, but fewer than a majority of the {request.Nodes} nodes confirmed it within {timeout}; " +
            "it spreads to the others when they are reachable (see `listener show` and `status --cluster`)"),
        ModifyFailure modify => new UpdateOutcome.Failed($"the change could not be made: {modify.Cause.Message}"),
        var other => new UpdateOutcome.Failed($"the change was not stored: {other}"),
    };

    /// <summary>The requester's reply: <paramref name="stored"/> is the entry as stored, <paramref name="failure"/> why it was not.</summary>
    public static object Reply(WriteRequest request, ClusterListener? stored, string? failure)
    {
        if (request.Report is { } report)
            return failure is null
                ? report
                : report with
                {
                    Completed = false,
                    Failure = $"every node reloaded, but the new handler generation {(request.Change as ListenerChange.RecordGeneration)?.Generation} " +
                              $"was not recorded in the desired state: {failure}",
                };
        return failure is null && stored is not null
            ? new ClusterListeners.ListenerChanged(stored, request.All ? "all" : "majority", request.Nodes)
            : CommandFailedException.Reply(request.Command, failure ?? "the change was stored, but this node could not read it back");
    }
}
