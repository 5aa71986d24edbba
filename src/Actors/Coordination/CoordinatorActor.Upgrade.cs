using Akka.Actor;
using Akka.Event;
using ShardRuntime.Runtime.Upgrade;
using ShardRuntime.Actors.Upgrade;
using ShardRuntime.Actors.Listeners;

namespace ShardRuntime.Actors.Coordination;

/// <summary>
/// The node's side of an upgrade as a predecessor: whether one may start, and what only the owner of the registry can
/// do to the sockets. The upgrade itself (the successor process, the passing, the stability watch, who asked) is the
/// predecessor actor's (<see cref="PredecessorActor"/>); it tells the coordinator what to do: collect the sockets to
/// pass, stand by (shards parked, sockets open), let go (close the copies, drain, stop), or serve on (accept and steer
/// again, and check in the kernel's table that nobody else holds the sockets).
/// </summary>
internal sealed partial class CoordinatorActor
{
    /// <summary>The upgrade's messages (from the CLI, the predecessor actor, the kernel table check). False when it is none of them.</summary>
    private bool OnUpgradeMessage(object message)
    {
        switch (message)
        {
            case Coordinator.Upgrade upgrade:
                StartUpgrade(upgrade);
                break;
            case Coordinator.PassSockets pass:
                PassSockets(pass);
                break;
            case Coordinator.SuccessorStarted started when _s.Life is NodeLife.Upgrading upgrading:
                Enter(new NodeLife.Upgrading(upgrading.Progress with { Step = UpgradeStep.WaitingForSuccessor, SuccessorProcessId = started.ProcessId }));
                break;
            case Coordinator.StandBy standBy when _s.Life is NodeLife.Upgrading upgrading:
                Enter(new NodeLife.Upgrading(upgrading.Progress with { Step = UpgradeStep.Watching, SuccessorProcessId = standBy.ProcessId }));
                StandBy(standBy);
                break;
            case Coordinator.LetGoOfSockets letGo:
                _s.LastUpgradeFailure = null;
                Release(letGo.Why, letGo.Declined, DrainCause.PassedSockets);
                break;
            case Coordinator.UpgradeFailed failed:
                OnUpgradeFailed(failed);
                break;
            case Coordinator.SuccessorStarted or Coordinator.StandBy:
                break; // the node drains meanwhile
            case Coordinator.ForeignHoldersChecked { Finding: { } finding }:
                _log.Error("Upgrade: another process still holds this node's listening sockets: {Finding}", finding);
                _s.LastUpgradeFailure = $"{_s.LastUpgradeFailure}; {finding}";
                break;
            case Coordinator.ForeignHoldersChecked:
                _log.Info("Upgrade: no other process holds this node's listening sockets");
                break;
            default:
                return false;
        }
        return true;
    }

    /// <summary>Why passing the sockets cannot start now, or null.</summary>
    private string? UpgradeRefusal()
    {
        if (NodeLife.UpgradeRefusal(_s.Life) is { } busy) return busy;
        if (_s.StartFailure is not null) return $"the node did not start: {_s.StartFailure}";
        // A retiring socket still drains its queue; the successor would have to steer it without knowing it drains.
        var draining = _s.Listeners.Values.Concat(_s.Retired)
            .SelectMany(l => l.Shards.Values.Where(s => s.Retiring && !s.SocketClosed).Select(s => s.Key.ToString()))
            .ToList();
        if (draining.Count > 0)
            return $"shard(s) {string.Join(", ", draining)} still drain their accept queues; try again once they closed (retire-queue-timeout at most)";
        return null;
    }

    /// <summary>What makes a node able to upgrade, for refusals: an app that hosts ShardRuntime, or the host.</summary>
    private const string HowToEnableUpgrade =
        "an app that hosts ShardRuntime enables upgrades with WithShardRuntime(o => o.EnableUpgrade()) (its own process is started again as the successor); " +
        "the shardruntime host has them on (upgrade.enabled = on)";

    private void StartUpgrade(Coordinator.Upgrade upgrade)
    {
        var refusal = UpgradeRefusal();
        if (refusal is null && UpgradeActor is null)
            refusal = $"upgrades are off on this node (shard-runtime.upgrade.enabled = off); {HowToEnableUpgrade}";
        if (refusal is null && _s.UpgradeOptions.StartSuccessor is null)
            refusal = $"this node cannot start a successor; {HowToEnableUpgrade}, or start one by hand with `shardruntime run --upgrade-from {_settings.Upgrade.SocketPath}`";
        if (refusal is not null)
        {
            _log.Warning("Upgrade refused: {Reason}", refusal);
            _s.LastUpgradeFailure = $"refused: {refusal}";
            Sender.Tell(CommandFailedException.Reply(upgrade, refusal));
            return;
        }
        Enter(new NodeLife.Upgrading(new UpgradeProgress(UpgradeStep.StartingSuccessor, null, DateTimeOffset.UtcNow)));
        _log.Info("Upgrade: starting a successor process to take over the listening sockets");
        UpgradeActor!.Tell(new Predecessor.StartSuccessor(Sender));
    }

    /// <summary>
    /// A successor asks for the sockets: the one this node started (its upgrade runs), or one started by hand (the node
    /// must be free to upgrade). Each group lists its accepting members' sockets; the answer goes to the predecessor actor.
    /// </summary>
    private void PassSockets(Coordinator.PassSockets pass)
    {
        var own = _s.Life is NodeLife.Upgrading { Progress: { Step: UpgradeStep.StartingSuccessor or UpgradeStep.WaitingForSuccessor } progress }
                  && progress.SuccessorProcessId == pass.PeerProcessId;
        if (!own && UpgradeRefusal() is { } refusal)
        {
            _log.Warning("Passing the sockets to pid {Peer} refused: {Reason}", pass.PeerProcessId, refusal);
            Sender.Tell(CommandFailedException.Reply(pass, refusal));
            return;
        }
        var since = _s.Life is NodeLife.Upgrading upgrading ? upgrading.Progress.Since : DateTimeOffset.UtcNow;
        Enter(new NodeLife.Upgrading(new UpgradeProgress(UpgradeStep.PassingSockets, pass.PeerProcessId, since)));
        var passing = _s.Listeners.Values.SelectMany(l => l.Shards.Values.Where(s => !s.Retiring).Select(s => (Listener: l, Shard: s)))
            .ToDictionary(e => e.Shard.Key);
        var generation = _s.UpgradeOptions.ProcessGeneration;
        var asks = passing.Values.Select(e => e.Shard.Group).Distinct()
            .Select(g => g.Ask<Group.Sockets>(Group.GetSockets.Instance, _settings.Upgrade.StepTimeout)).ToList();
        Task.WhenAll(asks).PipeTo(Sender,
            success: groups =>
            {
                var sockets = groups.SelectMany(g => g.Members).Where(m => passing.ContainsKey(m.Key))
                    .OrderBy(m => m.Key.Listener, StringComparer.Ordinal).ThenBy(m => m.Key.ShardId)
                    .Select(m =>
                    {
                        var (listener, shard) = passing[m.Key];
                        return (m.Socket, new SocketLabel(
                            listener.Name, shard.EndPoint, listener.Settings.Protocol, m.Key.ShardId, shard.Inode, m.Position, shard.Pinned));
                    }).ToList();
                return new Coordinator.SocketsToPass(sockets, generation);
            },
            failure: e => CommandFailedException.Reply(pass, $"the listening sockets could not be collected from their groups: {e.GetBaseException().Message}"));
        _log.Info("Upgrade: passing {Count} listening sockets to successor pid {Peer}", passing.Count, pass.PeerProcessId);
    }

    /// <summary>
    /// The upgrade ended without a successor serving: the node serves on. A successor may have attached its own steering
    /// program to the groups (they are the same kernel groups): ours goes back; shards parked for a successor that died
    /// accept again. Nobody else may hold the sockets now: the kernel's table is checked.
    /// </summary>
    private void OnUpgradeFailed(Coordinator.UpgradeFailed failed)
    {
        _s.LastUpgradeFailure = failed.Failure;
        if (failed.SuccessorServed && _s.Life is NodeLife.Upgrading)
        {
            foreach (var shard in _s.Shards.Values.Select(e => e.Shard)) shard.Parked = false;
            TellGroups(Group.Resume.Instance); // which steers the groups again too
        }
        else if (!failed.SuccessorServed)
        {
            TellGroups(Group.Steer.Instance);
        }
        Enter(NodeLife.AfterUpgradeFailed(_s.Life));
        _log.Warning("Upgrade ended, node {ProcessId} serves on: {Failure}", Environment.ProcessId, failed.Failure);
        CheckForeignHolders();
    }

    /// <summary>
    /// This node no longer serves its sockets: another process accepts on them. Every shard stops accepting and closes
    /// only this process's descriptor (never shutdown(): the kernel socket is shared), without steering (the group is
    /// the other process's to steer now). Declined sockets (their listener left the successor's configuration) retire
    /// here as a removed listener does, draining their queues. Open connections drain; then the node stops.
    /// </summary>
    private void Release(string why, IReadOnlyList<long> declined, DrainCause cause)
    {
        if (_s.Life.LetGo) return;
        Enter(NodeLife.AfterLettingGo(_s.Life, cause));
        var timeout = _settings.ShutdownDrainTimeout;
        _log.Info("Released the listening sockets: {Why}; open connections have {Timeout} to finish", why, timeout);
        RetireDeclined(declined);
        var passed = _s.Listeners.Values.SelectMany(l => l.Shards.Values).ToList();
        foreach (var shard in passed) shard.LetGo = true;
        // Open connections finish on their own, or close gracefully at the deadline (FIN after what is queued).
        RetireInGroups(passed, RetireMode.LetGo, timeout);
        CheckLetGo();
        CheckDrained();
    }

    /// <summary>The successor accepts: every shard stops accepting but keeps its socket and connections; declined listeners retire.</summary>
    private void StandBy(Coordinator.StandBy standBy)
    {
        RetireDeclined(standBy.Declined);
        foreach (var shard in _s.Shards.Values.Select(e => e.Shard).Where(s => !s.Retiring)) shard.Parked = true;
        TellGroups(Group.Park.Instance);
        _log.Info("Passed the sockets to successor pid {Pid}: this node keeps its listening sockets open without accepting for {Period}, and accepts on them again if the successor dies meanwhile",
            standBy.ProcessId, _settings.Upgrade.StabilityPeriod);
    }

    /// <summary>Sockets whose listener left the successor's configuration retire here as a removed listener does, draining their queues.</summary>
    private void RetireDeclined(IReadOnlyList<long> declined)
    {
        if (declined.Count == 0) return;
        var declinedSet = declined.ToHashSet();
        foreach (var listener in _s.Listeners.Values.Where(l => l.Shards.Values.Any(s => declinedSet.Contains(s.Inode))).ToList())
        {
            _log.Info("Listener {Listener} is not in the successor's configuration; it drains its accept queue here", listener.Name);
            RetireListener(listener);
        }
    }

    /// <summary>Once every passed socket's copy here is closed, the predecessor actor closes the connection: the successor waits for that.</summary>
    private void CheckLetGo()
    {
        if (_s.Life is not NodeLife.Draining { Cause: DrainCause.PassedSockets, CopiesClosed: false } draining) return;
        if (_s.Shards.Values.Any(e => e.Shard.LetGo && !e.Shard.SocketClosed)) return;
        Enter(draining with { CopiesClosed = true });
        UpgradeActor?.Tell(Predecessor.CopiesClosed.Instance);
    }

    /// <summary>Reads, off the actor's thread, whether another process holds a socket of this node's listeners (<see cref="ForeignSockets"/>).</summary>
    private void CheckForeignHolders()
    {
        var ours = _s.Shards.Values.Select(e => e.Shard).Where(s => !s.SocketClosed).Select(s => s.Inode).ToHashSet();
        var endpoints = _s.Listeners.Values.Where(l => l.BoundEndPoint is not null)
            .Select(l => (l.BoundEndPoint!, l.Settings.Protocol)).Distinct().ToList();
        Task.Run(() => ForeignSockets.Find(ours, endpoints))
            .PipeTo(Self, success: finding => new Coordinator.ForeignHoldersChecked(finding),
                failure: e => new Coordinator.ForeignHoldersChecked($"the kernel's table could not be checked: {e.GetBaseException().Message}"));
    }
}
