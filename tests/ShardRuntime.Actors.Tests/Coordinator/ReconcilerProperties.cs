using System.Net;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using ShardRuntime.Actors.Coordination.Reconciliation;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Upgrade;
using ShardRuntime.Runtime.Sockets;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Tests.Coordinator;

/// <summary>
/// Properties of the <see cref="Reconciler"/> over random runs of a node: a start with or without inherited socket groups
/// (some pinned by systemd, some without SO_REUSEPORT, a take-over pending or not), then desired states, scales,
/// retiring shards closing, the take-over completing and the rest of the inherited sockets declined, in any order. Plans
/// are executed by <see cref="ReconcilerModel"/>, which rejects any step that does not fit the node (a shard id given
/// twice, a pinned or non-accepting shard retired, a retirement while the take-over defers them).
/// </summary>
public sealed class ReconcilerProperties
{
    private static readonly IReadOnlyDictionary<string, CoordinatorProtocol.ClusterOverride> NoOverrides =
        new Dictionary<string, CoordinatorProtocol.ClusterOverride>();

    [Property(MaxTest = 400)]
    public Property Any_sequence_of_desired_states_must_converge() =>
        Prop.ForAll(Scenarios.ToArbitrary(), scenario =>
        {
            var run = new Run(scenario.Start);
            foreach (var e in scenario.Events)
            {
                if (run.Apply(e) is { } desired)
                    Assert.True(run.PlanFor(desired).IsEmpty, $"after {e}, planning again: {run.PlanFor(desired)}");
            }
            // Once the take-over completed and the drains finished, one more plan brings the node to the desired state exactly.
            run.Model.OnPredecessorLetGo();
            run.Model.CloseRetiring();
            Assert.True(run.Model.Execute(run.PlanFor(run.Desired)));
            var last = run.PlanFor(run.Desired);
            Assert.True(last.IsEmpty && last.Deferred.Count == 0, $"planning again: {last}");
            AssertMatches(run.Desired, run.Model.Node);
        });

    [Property(MaxTest = 400)]
    public Property No_plan_may_leave_a_wanted_listener_or_port_without_an_accepting_socket() =>
        Prop.ForAll(Scenarios.ToArbitrary(), scenario =>
        {
            var run = new Run(scenario.Start) { CheckAvailability = true };
            foreach (var e in scenario.Events) run.Apply(e);
            run.Model.OnPredecessorLetGo();
            run.Apply(new Desire(run.Desired));
        });

    [Property(MaxTest = 400)]
    public Property A_refused_or_failed_plan_must_change_nothing() =>
        Prop.ForAll(Scenarios.ToArbitrary(), Gen.Choose(0, 3).ToArbitrary(), (scenario, failingBind) =>
        {
            var run = new Run(scenario.Start);
            foreach (var e in scenario.Events)
            {
                if (e is not Desire desire)
                {
                    run.Apply(e);
                    continue;
                }
                var before = ReconcilerModel.Describe(run.Model.Node);
                switch (Reconciler.Plan(desire.Listeners, run.Model.Node, ReconcilerSpecs.UnknownHandler))
                {
                    case Decision.Refused refused:
                        Assert.Matches("^listeners? '", refused.Reason);
                        Assert.Equal(refused, Reconciler.Plan(desire.Listeners, run.Model.Node, ReconcilerSpecs.UnknownHandler));
                        break;
                    case Decision.Planned { Plan: var plan } when plan.Acquire.OfType<AcquireStep.Bind>().Skip(failingBind).FirstOrDefault() is { } fails:
                        Assert.False(run.Model.Execute(plan, bind => bind == fails));
                        break;
                    default:
                        run.Apply(desire);
                        continue;
                }
                Assert.Equal(before, ReconcilerModel.Describe(run.Model.Node));
                // The same desired state goes through once the port is free again.
                run.Apply(desire);
            }
        });

    [Property(MaxTest = 400)]
    public Property Shard_ids_must_never_be_given_twice_within_a_listener_name() =>
        Prop.ForAll(Scenarios.ToArbitrary(), scenario =>
        {
            var run = new Run(scenario.Start);
            foreach (var e in scenario.Events) run.Apply(e);
            run.Model.OnPredecessorLetGo();
            run.Apply(new Desire(run.Desired));
            // The model throws on an id given twice; beyond that, every id issued is below the name's next id.
            foreach (var (name, ids) in run.Model.Issued)
                Assert.All(ids, id => Assert.True(id < run.Model.Node.NextShardId[name], $"{name}/{id} issued, next id {run.Model.Node.NextShardId[name]}"));
        });

    /// <summary>The node runs <paramref name="desired"/>: each listener with its settings and shard count, nothing else accepting.</summary>
    private static void AssertMatches(IReadOnlyList<ListenerSettings> desired, ObservedNode node)
    {
        foreach (var d in desired)
        {
            var current = node.Current(d.Name);
            Assert.NotNull(current);
            Assert.Equal(d, current.Settings with { Shards = d.Shards });
            Assert.Equal(d.EffectiveShards, current.Desired);
            Assert.Equal(Math.Max(d.EffectiveShards, current.Accepting.Count(s => s.Pinned)), current.ActiveCount);
            Assert.True(current.Steered, $"{current.Id} not steered");
            if (d.EndPoint.Port != 0) Assert.Equal(d.EndPoint, current.BoundEndPoint);
        }
        Assert.Equal(desired.Select(d => d.Name).Order(), node.CurrentListeners.Select(l => l.Id.Name).Order());
        Assert.All(node.Listeners.Where(l => l.Retired), l => Assert.Empty(l.Accepting));
    }

    /// <summary>One run: the model, the desired state it last accepted, and the checks made while executing.</summary>
    private sealed class Run(ObservedNode start)
    {
        public ReconcilerModel Model { get; } = new(start);
        public IReadOnlyList<ListenerSettings> Desired { get; private set; } = [];
        public bool CheckAvailability { get; init; }

        public Plan PlanFor(IReadOnlyList<ListenerSettings> desired) =>
            Assert.IsType<Decision.Planned>(Reconciler.Plan(desired, Model.Node, ReconcilerSpecs.UnknownHandler)).Plan;

        /// <summary>Applies <paramref name="e"/>; returns the desired state a plan was executed for, or null.</summary>
        public IReadOnlyList<ListenerSettings>? Apply(Event e)
        {
            switch (e)
            {
                case Desire desire when Reconciler.Plan(desire.Listeners, Model.Node, ReconcilerSpecs.UnknownHandler) is Decision.Planned { Plan: var plan }:
                    Execute(plan, desire.Listeners);
                    return Desired = desire.Listeners;
                case Scale scale when Reconciler.Scale(Model.Node, scale.Listener, scale.Shards, NoOverrides) is Decision.Planned { Plan: var plan }:
                    // The executor keeps the scale in the node's own desired state.
                    var desired = Desired.Select(l => l.Name == scale.Listener ? l with { Shards = scale.Shards } : l).ToList();
                    Execute(plan, desired);
                    return Desired = desired;
                case CloseRetiring:
                    Model.CloseRetiring();
                    return null;
                case OnPredecessorLetGo:
                    // The executor plans again: the deferred retirements are due, the groups get this node's steering.
                    Model.OnPredecessorLetGo();
                    Execute(PlanFor(Desired), Desired);
                    return Desired;
                case DeclineInherited:
                    Model.DeclineInherited();
                    return null;
                default:
                    return null; // refused
            }
        }

        private void Execute(Plan plan, IReadOnlyList<ListenerSettings> desired)
        {
            var node = Model.Node;
            // What accepts before the plan and is wanted after it: every listener name, and every fixed endpoint.
            var names = desired.Select(d => d.Name).Where(n => node.Listeners.Any(l => l.Id.Name == n && l.ActiveCount > 0)).ToList();
            var endPoints = desired.Where(d => d.EndPoint.Port != 0).Select(d => d.EndPoint)
                .Where(ep => node.Listeners.Any(l => ep.Equals(l.BoundEndPoint) && l.ActiveCount > 0)).ToList();
            Assert.True(Model.Execute(plan, afterStep: (step, now) =>
            {
                if (!CheckAvailability) return;
                foreach (var name in names)
                    Assert.True(now.Listeners.Any(l => l.Id.Name == name && l.ActiveCount > 0), $"after '{step}' of [{plan}], '{name}' has no accepting shard");
                foreach (var endPoint in endPoints)
                    Assert.True(now.Listeners.Any(l => endPoint.Equals(l.BoundEndPoint) && l.ActiveCount > 0), $"after '{step}' of [{plan}], {endPoint} has no accepting shard");
            }));
        }
    }

    /// <summary>Something that happens to a node.</summary>
    private abstract record Event;

    private sealed record Desire(IReadOnlyList<ListenerSettings> Listeners) : Event
    {
        public override string ToString() => $"desire [{string.Join(", ", Listeners.Select(Describe))}]";
    }

    private sealed record Scale(string Listener, int Shards) : Event
    {
        public override string ToString() => $"scale {Listener} {Shards}";
    }

    private sealed record CloseRetiring : Event
    {
        public override string ToString() => "retiring shards close";
    }

    private sealed record OnPredecessorLetGo : Event
    {
        public override string ToString() => "take-over completes";
    }

    private sealed record DeclineInherited : Event
    {
        public override string ToString() => "inherited sockets declined";
    }

    private sealed record Scenario(ObservedNode Start, IReadOnlyList<Event> Events)
    {
        public override string ToString() =>
            $"start: inherited {string.Join("; ", Start.Inherited.Select(g => $"{g} labels [{string.Join(", ", g.Sockets.Select(s => $"{s.Listener}#{s.ShardIndex}@{s.Position}{(s.Pinned ? " pinned" : "")}"))}]"))}" +
            $"{(Start.PredecessorHolds ? ", taking over" : "")}; then {string.Join("; ", Events)}";
    }

    private static string Describe(ListenerSettings l) =>
        $"{l.Name}:{l.Shards}@{l.EndPoint.Port}/{l.Handler}/b{l.Backlog}";

    private static readonly string[] Names = ["a", "b", "c", "d"];
    private static readonly int[] Ports = [0, 0, 8080, 8081, 8082, 8083, 8084];

    private static Gen<ListenerSettings> ListenerOf(string name) =>
        from port in Gen.Elements(Ports)
        from shards in Gen.Choose(1, 4)
        from handler in Gen.Frequency((8, Gen.Constant("echo")), (3, Gen.Constant("http-ok")), (1, Gen.Constant("ecko")))
        from backlog in Gen.Elements(128, 511)
        select ReconcilerSpecs.Listener(name, shards, port, handler) with { Backlog = backlog };

    private static Gen<Event> Desires =>
        from names in Gen.SubListOf(Names)
        from listeners in Gen.CollectToList(names, ListenerOf)
        from twice in Gen.Frequency((14, Gen.Constant(false)), (1, Gen.Constant(true)))
        select (Event)new Desire(twice && listeners.Count > 0 ? [.. listeners, listeners[0] with { Shards = 1 }] : listeners);

    private static Gen<Event> Events => Gen.Frequency(
        (6, Desires),
        (2, from name in Gen.Elements(Names) from shards in Gen.Choose(0, 5) select (Event)new Scale(name, shards)),
        (2, Gen.Constant<Event>(new CloseRetiring())),
        (1, Gen.Constant<Event>(new OnPredecessorLetGo())),
        (1, Gen.Constant<Event>(new DeclineInherited())));

    /// <summary>An inherited group on <paramref name="port"/> (labelled with <paramref name="name"/>), its inodes from <paramref name="firstInode"/>.</summary>
    private static Gen<InheritedGroup> GroupOf(int port, string name, int firstInode) =>
        from count in Gen.Choose(1, 4)
        from shardIds in Gen.ListOf(Gen.Choose(-1, 5), count)
        from positions in Gen.Frequency((4, Gen.Constant(true)), (1, Gen.Constant(false)))
        from pinned in Gen.ListOf(Gen.Frequency((9, Gen.Constant(false)), (1, Gen.Constant(true))), count)
        from reusePort in Gen.Frequency((3, Gen.Constant(true)), (1, Gen.Constant(false)))
        select InheritedGroup.Of(
            Enumerable.Range(0, count).Select(i => new SocketLabel(
                name, new IPEndPoint(IPAddress.Loopback, port), TransportProtocol.Tcp, shardIds[i], firstInode + i, positions ? count - 1 - i : -1, pinned[i])),
            _ => reusePort).Single();

    private static Gen<ObservedNode> Starts =>
        from ports in Gen.SubListOf([8080, 8081, 8082, 45001, 45002])
        from labels in Gen.ListOf(Gen.Elements(Names), ports.Count)
        from groups in Gen.CollectToList(Enumerable.Range(0, ports.Count), i => GroupOf(ports[i], labels[i], 500 + 10 * i))
        from takingOver in ArbMap.Default.GeneratorFor<bool>()
        select ObservedNode.Empty with { Inherited = groups, PredecessorHolds = takingOver && groups.Count > 0 };

    private static Gen<Scenario> Scenarios =>
        from start in Starts
        from events in Gen.Sized(size => Gen.ListOf(Events, Math.Clamp(size / 4, 1, 15)))
        select new Scenario(start, events);
}
