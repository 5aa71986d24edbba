using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using ShardRuntime.Actors.Dispatch;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Sockets;
using ShardRuntime.Runtime.Sockets.Readiness;

namespace ShardRuntime.Actors.Listeners;

/// <summary>
/// The one owner of the listening sockets of one reuseport group (one endpoint). It takes the sockets the coordinator
/// bound or adopted (<see cref="Group.Join"/>), keeps the model of the kernel's member order, steers new connections to
/// the accepting members, and retires members without resetting a connection: it marks them retiring and steers away
/// from them, their shards accept what is still queued, and once each one's queue stayed quiet (or ran out of time) it
/// closes them, in the order <see cref="ReuseportGroup.ClosesNow"/> gives, and tells each shard. Only this actor closes a
/// socket of the group. Shards are its children, restarted on the same socket when they crash; its state
/// (<see cref="GroupState"/>) outlives a restart of the group itself.
/// </summary>
internal sealed class ReuseportGroupActor : UntypedActor, IWithTimers
{
    private const string DrainCheckTimer = "drain-check";

    /// <summary>Buckets a flow-sticky group deals to its members (flow-id): enough for an even share among up to 256 shards.</summary>
    private const int FlowBuckets = 256;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly GroupState _group;
    private readonly ShardRuntimeSettings _settings;

    public ReuseportGroupActor(GroupState group, ShardRuntimeSettings settings)
    {
        _group = group;
        _settings = settings;
    }

    public ITimerScheduler Timers { get; set; } = null!;

    private string Name => Coordination.Coordinator.Describe(_group.EndPoint, _group.Protocol);

    protected override SupervisorStrategy SupervisorStrategy() =>
        // A shard that throws is restarted: its socket and its connections are untouched (see ListenerShardActor).
        new OneForOneStrategy(maxNrOfRetries: 10, withinTimeRange: TimeSpan.FromMinutes(1), _ => Directive.Restart);

    protected override void PreStart()
    {
        if (_group.Started)
        {
            // Restarted: the shards (restarted along with us, sockets untouched) are watched again.
            foreach (var member in _group.Members.Values) Context.Watch(member.Actor);
            ArmDrainCheck();
        }
        _group.Started = true;
    }

    protected override void PreRestart(Exception reason, object message)
    {
        // Deliberately not base.PreRestart: stopping the shards would drop every connection.
        _log.Error(reason, "Group {Group} crashed on {Message}; restarting with its sockets and shards", Name, message?.GetType().Name ?? "start-up");
    }

    protected override void PostRestart(Exception reason) => PreStart();

    protected override void PostStop()
    {
        // The node is going away (or the group is empty): release every socket left.
        foreach (var member in _group.Members.Values) member.Socket.DisposeAll();
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Group.Join join:
                foreach (var shard in join.Shards) Add(shard);
                SteerGroup();
                break;
            case Group.Retire retire:
                Retire(retire);
                break;
            case DrainCheckTick:
                CloseDrained();
                break;
            case Group.Park:
                foreach (var member in Serving()) member.Actor.Tell(Listener.Park.Instance);
                break;
            case Group.Resume:
                foreach (var member in Serving()) member.Actor.Tell(Listener.Resume.Instance);
                SteerGroup();
                break;
            case Group.Steer:
                _group.SteeringAllowed = true;
                SteerGroup();
                break;
            case Group.GenerationChanged changed:
                foreach (var key in changed.Shards)
                    if (_group.Members.TryGetValue(key, out var member)) member.Actor.Tell(changed.Change);
                break;
            case Group.GetSockets:
                Sender.Tell(new Group.Sockets(Serving().Where(m => !m.Socket.IsDisposed)
                    .Select(m => (m.Key, m.Socket.Socket, InModel(m) ? _group.Model.PositionOf(m.Socket.Socket) : -1)).ToList()));
                break;
            case Terminated terminated:
                OnShardTerminated(terminated.ActorRef);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private IEnumerable<GroupMember> Serving() => _group.Members.Values.Where(m => m.Retiring is null);

    private bool InModel(GroupMember member) => !member.Socket.IsDisposed && _group.Model.Members.Contains(member.Socket.Socket);

    /// <summary>Takes one socket: wraps it for the readiness engine, adds it to the model (in the order it joined), starts its shard.</summary>
    private void Add(Group.JoiningShard joining)
    {
        IShardSocket socket;
        try
        {
            var loop = joining.Key.ShardId % _settings.IoLoops;
            var dispatcher = _settings.ActorsOnIoLoops ? IoLoopDispatchers.Id(loop) : null;
            socket = _group.Protocol == TransportProtocol.Udp
                ? new DatagramShardSocket(joining.Socket, joining.Key.ShardId, ReadinessEngine.Loop(loop), dispatcher, joining.Listener.Settings)
                : new ShardSocket(joining.Socket, joining.Key.ShardId, ReadinessEngine.Loop(loop), dispatcher);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException or IOException)
        {
            _log.Error("Group {Group}: shard {Shard} could not take its socket: {Error}", Name, joining.Key, e.Message);
            joining.Socket.Dispose();
            Context.Parent.Tell(new Group.ShardStopped(joining.Key));
            return;
        }
        if (joining.Listener.Settings.FlowId is { } flowId && _group.Model.FlowId is null && !_group.LetGo)
        {
            _group.Model.RouteByFlowId(flowId, FlowBuckets);
            _log.Info("Group {Group} routes datagrams by their {FlowId} over {Buckets} buckets (flow-sticky)", Name, flowId, FlowBuckets);
        }
        if (!_group.LetGo) _group.Model.Add(joining.Socket);
        var member = new GroupMember(socket, joining.Key, joining.Listener, joining.Counters);
        _group.Members[joining.Key] = member;
        StartShard(member);
    }

    private void StartShard(GroupMember member)
    {
        var props = member.Socket.ShardProps(member.Listener, member.Counters);
        if (member.Socket.Dispatcher is { } dispatcher) props = props.WithDispatcher(dispatcher);
        member.Actor = Context.ActorOf(props, Listener.ActorName(member.Key.Listener, member.Key.ShardId));
        Context.Watch(member.Actor);
    }

    /// <summary>Makes the kernel steer new connections to the accepting members. False when it could not.</summary>
    private bool SteerGroup()
    {
        var model = _group.Model;
        // A successor leaves the groups as its predecessor steers them until it let go; a group let go of is the successor's.
        if (!_group.SteeringAllowed || _group.LetGo || model.Count == 0) return true;
        // One member: every connection goes to it anyway (and a socket without SO_REUSEPORT, such as one systemd made
        // without ReusePort=yes, takes no program). Every member retiring: nothing to steer to; the drains finish on their own.
        if ((model.Count == 1 && model.Accepting.Count == 1) || model.Accepting.Count == 0) return true;
        try
        {
            model.ApplySteering();
            return true;
        }
        catch (Exception e) when (e is ReuseportSteeringException or SocketException or ObjectDisposedException or InvalidOperationException or ArgumentException)
        {
            _log.Warning("Group {Group}: steering failed: {Error}; retiring sockets drain until quiet without it", Name, e.Message);
            return false;
        }
    }

    private void Retire(Group.Retire retire)
    {
        var members = retire.Shards.Select(k => _group.Members.GetValueOrDefault(k)).OfType<GroupMember>().ToList();
        if (retire.Mode == RetireMode.LetGo)
        {
            // The successor steers the kernel group now: this process's model of it is over.
            _group.LetGo = true;
            foreach (var member in members) member.Socket.Shared = true;
        }
        var steered = new List<GroupMember>();
        var now = Environment.TickCount64;
        foreach (var member in members)
        {
            member.Actor.Tell(new Listener.Retire(retire.Mode, retire.DrainTimeout));
            if (member.Retiring is not null)
            {
                // Already retiring: a nearer deadline wins; shutdown closes it now.
                member.Drain?.CloseBy(now + (long)retire.DrainTimeout.TotalMilliseconds);
                if (retire.Mode != RetireMode.DrainQueue) member.Drain = null;
                continue;
            }
            member.Retiring = retire.Mode;
            if (retire.Mode != RetireMode.DrainQueue) continue;
            var settings = member.Listener.Settings;
            var deadline = now + (long)Math.Min(settings.RetireQueueTimeout.TotalMilliseconds, retire.DrainTimeout.TotalMilliseconds);
            member.Drain = new ListenerDrain(now, settings.RetireQuietPeriod, deadline);
            if (InModel(member) && !_group.LetGo && _group.Model.Accepting.Count > 1)
            {
                _group.Model.MarkRetiring(member.Socket.Socket);
                steered.Add(member);
            }
        }
        if (steered.Count > 0 && !SteerGroup()) steered.Clear();
        foreach (var member in members.Where(m => m.Retiring == RetireMode.DrainQueue && m.Drain is not null && !steered.Contains(m)))
            _log.Info("Shard {Shard} retires without steering (no other socket of {Group} accepts); it drains its queue until quiet", member.Key, Name);
        // Shutdown and letting go close at once: every socket goes, so nobody waits for the others.
        foreach (var member in members.Where(m => m.Retiring is not null && m.Drain is null && !m.Socket.IsDisposed))
            Close(member, retire.Mode == RetireMode.LetGo ? "the successor accepts on it" : "shutdown");
        if (members.Any(m => m.Drain is not null)) ArmDrainCheck();
        if (members.Any(m => m.Socket.IsDisposed)) AfterCloses(innerClosed: false);
    }

    private void ArmDrainCheck()
    {
        var draining = _group.Members.Values.Where(m => m.Drain is not null && !m.Socket.IsDisposed).ToList();
        if (draining.Count == 0)
        {
            Timers.Cancel(DrainCheckTimer);
            return;
        }
        if (Timers.IsTimerActive(DrainCheckTimer)) return;
        var quietest = draining.Min(m => m.Listener.Settings.RetireQuietPeriod.Ticks);
        var every = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(10).Ticks, quietest / 4));
        Timers.StartPeriodicTimer(DrainCheckTimer, DrainCheckTick.Instance, every);
    }

    /// <summary>Closes the retiring members whose queues drained (or ran out of time), in an order that keeps the steering right.</summary>
    private void CloseDrained()
    {
        var now = Environment.TickCount64;
        var byMember = _group.Members.Values.Where(m => !m.Socket.IsDisposed).ToDictionary(m => m.Socket.Socket);
        DrainCheck? Check(GroupMember m) =>
            m.Drain?.Check(now, m.Socket.LastTakenAt, m.Socket.Queued);
        var innerClosed = false;
        var closes = _group.Model.ClosesNow(s => byMember.TryGetValue(s, out var m) ? Check(m) : null);
        foreach (var socket in closes)
        {
            var member = byMember[socket];
            var moved = _group.Model.Members[^1] != socket;
            Close(member, Check(member) == DrainCheck.Overdue ? "its queue did not go quiet in time" : "its queue stayed empty");
            innerClosed |= moved;
        }
        // Members outside the model (the group was let go of, or a socket that never joined it) close once due.
        foreach (var member in byMember.Values.Where(m => m.Drain is not null && !m.Socket.IsDisposed && !InModel(m)))
        {
            if (Check(member) is DrainCheck.Drained or DrainCheck.Overdue) Close(member, "its queue stayed empty");
        }
        if (closes.Count > 0) AfterCloses(innerClosed);
        ArmDrainCheck();
    }

    /// <summary>
    /// After members closed: steer the rest. A close further in moved the last member into its slot, so the members still
    /// retiring may have got connections by the old program: they drain again.
    /// </summary>
    private void AfterCloses(bool innerClosed)
    {
        SteerGroup();
        if (!innerClosed) return;
        var now = Environment.TickCount64;
        foreach (var member in _group.Members.Values.Where(m => m.Drain is not null && !m.Socket.IsDisposed))
            member.Drain!.SteeringChanged(now);
    }

    /// <summary>Closes this process's copy of a member's socket, takes it out of the model, and tells its shard and the coordinator.</summary>
    private void Close(GroupMember member, string why)
    {
        var queued = member.Socket.Shared || member.Socket.IsDisposed ? 0 : member.Socket.Queued();
        if (member.Socket.Shared)
            _log.Info("Shard {Shard} lets go of socket inode {Inode}: the successor accepts on it", member.Key, member.Socket.Inode);
        else if (queued > 0)
            _log.Warning("Shard {Shard} closing socket inode {Inode} with {Queued} {What} still queued ({Why})", member.Key, member.Socket.Inode, queued, What, why);
        else
            _log.Info("Shard {Shard} closing socket inode {Inode} after draining {Drained} queued {What} ({Why})",
                member.Key, member.Socket.Inode, member.Socket.DrainedFromQueue, What, why);
        var inModel = InModel(member);
        member.Socket.Dispose();
        if (inModel) _group.Model.Remove(member.Socket.Socket);
        member.Drain = null;
        member.Actor.Tell(Listener.SocketClosed.Instance);
        Context.Parent.Tell(new Group.SocketClosed(member.Key));
    }

    /// <summary>What the group's sockets queue, as logs name it.</summary>
    private string What => _group.Protocol == TransportProtocol.Udp ? "datagrams" : "connections";

    private void OnShardTerminated(IActorRef actor)
    {
        var member = _group.Members.Values.FirstOrDefault(m => m.Actor.Equals(actor));
        if (member is null) return;
        if (member.Retiring is null)
        {
            // An accepting shard stopped after exhausting its restarts: start a fresh actor on the very same socket.
            _log.Warning("Shard {Shard} stopped unexpectedly; starting it again on the same socket", member.Key);
            StartShard(member);
            return;
        }
        if (!member.Socket.IsDisposed)
        {
            var inModel = InModel(member);
            member.Socket.Dispose();
            if (inModel) _group.Model.Remove(member.Socket.Socket);
            Context.Parent.Tell(new Group.SocketClosed(member.Key));
            AfterCloses(innerClosed: true);
        }
        member.Socket.DisposeAll();
        _group.Members.Remove(member.Key);
        Context.Parent.Tell(new Group.ShardStopped(member.Key));
        ArmDrainCheck();
    }

    /// <summary>Timer: look whether retiring members drained.</summary>
    private sealed class DrainCheckTick
    {
        public static readonly DrainCheckTick Instance = new();
        private DrainCheckTick() { }
    }
}
