using Akka.Actor;
using Akka.Event;
using Akka.Hosting;
using ShardRuntime.Runtime.Upgrade;
using ShardRuntime.Actors.Upgrade;
using ShardRuntime.Runtime.Systemd;
using ShardRuntime.Actors.Listener;

namespace ShardRuntime.Actors.Coordination;

/// <summary>
/// The node's side of an upgrade as a predecessor: whether one may start, the sockets its groups pass, how the attempt
/// ended; then standing by while the successor is watched for the stability period (shards parked, sockets open),
/// letting go once it proved stable, accepting again if it died, and checking the kernel's table that nobody else holds
/// the sockets once a successor was given up.
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
            case Coordinator.PassSockets begin:
                PassSockets(begin);
                break;
            case Coordinator.SuccessorStarted started when _s.Upgrade is { } running:
                running.SuccessorProcessId = started.ProcessId;
                running.Step = UpgradeStep.WaitingForSuccessor;
                break;
            case Coordinator.UpgradeFinished finished:
                OnUpgradeFinished(finished);
                break;
            case Coordinator.SuccessorStable stable when Watched(stable.ProcessId) is { } upgrade:
                _s.Upgrade = null;
                LetGo(upgrade, stable.ProcessId);
                break;
            case Coordinator.SuccessorDied died when Watched(died.ProcessId) is { } upgrade:
                _s.Upgrade = null;
                ResumeAccepting(upgrade, died);
                break;
            case Coordinator.SuccessorStarted or Coordinator.SuccessorStable or Coordinator.SuccessorDied:
                break;
            case Coordinator.ForeignHoldersChecked { Finding: { } finding }:
                _log.Error("Upgrade: another process still holds this node's listening sockets: {Finding}", finding);
                _s.LastUpgradeFailure = $"{_s.LastUpgradeFailure}; {finding}";
                break;
            case Coordinator.ForeignHoldersChecked:
                _log.Info("Upgrade: no other process holds this node's listening sockets");
                break;
            case Control.Control.Bound or Predecessor.Bound:
                _log.Info("Upgrade: {Socket} is this node's again", message);
                break;
            case Control.Control.BindFailed or Predecessor.BindFailed:
                _log.Error("Upgrade: a socket file could not be taken back: {Failure}", message);
                break;
            default:
                return false;
        }
        return true;
    }

    /// <summary>Why passing the sockets cannot start now, or null.</summary>
    private string? UpgradeRefusal()
    {
        if (Busy() is { } busy) return busy;
        if (_s.StartFailure is not null) return $"the node did not start: {_s.StartFailure}";
        // A retiring socket still drains its queue; the successor would have to steer it without knowing it drains.
        var draining = _s.Listeners.Values.Concat(_s.Retired)
            .SelectMany(l => l.Shards.Values.Where(s => s.Retiring && !s.SocketClosed).Select(s => s.Key.ToString()))
            .ToList();
        if (draining.Count > 0)
            return $"shard(s) {string.Join(", ", draining)} still drain their accept queues; try again once they closed (retire-queue-timeout at most)";
        return null;
    }

    private void StartUpgrade(Coordinator.Upgrade upgrade)
    {
        var refusal = UpgradeRefusal();
        if (refusal is null && UpgradeActor is null)
            refusal = "upgrades are off on this node (shard-runtime.upgrade.enabled = off)";
        if (refusal is null && _s.UpgradeOptions.StartSuccessor is null)
            refusal = "this node cannot start a successor (it was not started by the shardruntime host); start one with `run --upgrade-from`";
        if (refusal is not null)
        {
            _log.Warning("Upgrade refused: {Reason}", refusal);
            _s.LastUpgradeFailure = $"refused: {refusal}";
            Sender.Tell(new Coordinator.CommandFailed(upgrade, refusal));
            return;
        }
        _s.Upgrade = new UpgradeInProgress(Sender);
        Enter(NodePhase.Upgrading);
        _log.Info("Upgrade: starting a successor process to take over the listening sockets");
        UpgradeActor!.Tell(Predecessor.StartSuccessor.Instance);
    }

    private void PassSockets(Coordinator.PassSockets begin)
    {
        string? refusal;
        if (_s.Draining || _s.Upgrade is null)
            refusal = UpgradeRefusal();
        else if (_s.Upgrade.Step == UpgradeStep.PassingSockets)
            refusal = $"an upgrade is in progress (passing sockets to successor pid {_s.Upgrade.SuccessorProcessId})";
        else if (_s.Upgrade.SuccessorProcessId is not { } expected)
            refusal = "an upgrade is starting its own successor";
        else if (expected != begin.PeerProcessId)
            refusal = $"an upgrade to successor pid {expected} is in progress";
        else
            refusal = null; // the successor this node started
        if (refusal is not null)
        {
            _log.Warning("Passing the sockets to pid {Peer} refused: {Reason}", begin.PeerProcessId, refusal);
            Sender.Tell(new Coordinator.CommandFailed(begin, refusal));
            return;
        }

        var upgrade = _s.Upgrade ??= new UpgradeInProgress(null);
        upgrade.SuccessorProcessId = begin.PeerProcessId;
        upgrade.Step = UpgradeStep.PassingSockets;
        Enter(NodePhase.Upgrading);
        // The groups own the sockets and know their positions: each lists its accepting members.
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
            failure: e => new Coordinator.CommandFailed(begin, $"the listening sockets could not be collected from their groups: {e.GetBaseException().Message}"));
        _log.Info("Upgrade: passing {Count} listening sockets to successor pid {Peer}", passing.Count, begin.PeerProcessId);
    }

    private void OnUpgradeFinished(Coordinator.UpgradeFinished finished)
    {
        var upgrade = _s.Upgrade;
        // Only the attempt that runs ends: a report about another peer (one refused meanwhile) changes nothing.
        if (upgrade?.SuccessorProcessId is { } expected && finished.PeerProcessId is { } peer && peer != expected)
        {
            _log.Debug("Upgrade report about pid {Peer} ignored: the upgrade in progress is with pid {Expected}", peer, expected);
            return;
        }
        if (upgrade is null && !finished.Outcome.IsCompleted)
        {
            _log.Debug("Upgrade report about pid {Peer} ignored: no upgrade in progress", finished.PeerProcessId);
            return;
        }
        _s.Upgrade = null;
        var outcome = finished.Outcome;
        var pid = finished.PeerProcessId ?? upgrade?.SuccessorProcessId ?? 0;
        if (outcome.IsCompleted && _settings.Upgrade.StabilityPeriod > TimeSpan.Zero)
        {
            _s.Upgrade = upgrade ?? new UpgradeInProgress(null);
            _s.Upgrade.SuccessorProcessId = pid;
            _s.Upgrade.Step = UpgradeStep.Watching;
            _s.Upgrade.Outcome = outcome;
            StandBy(pid, outcome.Declined);
            return;
        }
        if (outcome.IsCompleted)
        {
            LetGo(upgrade, pid, outcome);
            return;
        }
        var reason = outcome.Reason ?? outcome.Result.ToString();
        _s.LastUpgradeFailure = $"rolled back: {reason}";
        Enter(NodeLife.PhaseOf(_s));
        SteerAll();
        _log.Warning("Upgrade rolled back, node {ProcessId} serves on: {Reason}", Environment.ProcessId, reason);
        upgrade?.Requester?.Tell(new Coordinator.CommandFailed(Coordinator.Upgrade.Instance, $"upgrade rolled back, node {Environment.ProcessId} serves on: {reason}"));
        CheckForeignHolders();
    }

    /// <summary>
    /// This node no longer serves its sockets: another process accepts on them. Every shard stops accepting and closes
    /// only this process's descriptor (never shutdown(): the kernel socket is shared), without steering (the group is
    /// the other process's to steer now). Declined sockets (their listener left the successor's configuration) retire
    /// here as a removed listener does, draining their queues. Open connections drain; then the node stops.
    /// </summary>
    private void Release(string why, IReadOnlyList<long> declined)
    {
        if (_s.LetGo) return;
        _s.LetGo = true;
        _s.Draining = true;
        Enter(NodePhase.Draining);
        var timeout = _settings.ShutdownDrainTimeout;
        _log.Info("Released the listening sockets: {Why}; open connections have {Timeout} to finish", why, timeout);
        RetireDeclined(declined);
        var passed = _s.Listeners.Values.SelectMany(l => l.Shards.Values).ToList();
        foreach (var shard in passed) shard.LetGo = true;
        // Open connections finish on their own, or close gracefully at the deadline (FIN after what is queued).
        RetireInGroups(passed, RetireMode.LetGo, timeout);
        CheckDrained();
    }

    /// <summary>The upgrade watching successor <paramref name="pid"/>, or null (a stale report, or the node drains anyway).</summary>
    private UpgradeInProgress? Watched(int pid) =>
        _s.Upgrade is { Step: UpgradeStep.Watching } upgrade && upgrade.SuccessorProcessId == pid && !_s.Draining ? upgrade : null;

    /// <summary>The successor accepts: every shard stops accepting but keeps its socket and connections; declined listeners retire.</summary>
    private void StandBy(int pid, IReadOnlyList<long> declined)
    {
        RetireDeclined(declined);
        foreach (var shard in _s.Shards.Values.Select(e => e.Shard).Where(s => !s.Retiring)) shard.Parked = true;
        TellGroups(Group.Park.Instance);
        _log.Info("Passed the sockets to successor pid {Pid}: this node keeps its listening sockets open without accepting for {Period}, and accepts on them again if the successor dies meanwhile",
            pid, _settings.Upgrade.StabilityPeriod);
    }

    /// <summary>The successor proved stable (or no stability period is set): answer the upgrade and let go of the sockets.</summary>
    private void LetGo(UpgradeInProgress? upgrade, int pid, UpgradeOutcome? outcome = null)
    {
        outcome ??= upgrade?.Outcome ?? new UpgradeOutcome(UpgradeResult.Completed, null, 0, null);
        _s.LastUpgradeFailure = null;
        upgrade?.Requester?.Tell(new Coordinator.Upgraded(pid, _s.UpgradeOptions.ProcessGeneration + 1, outcome.SocketsPassed, outcome.Declined));
        Release($"successor pid {pid} (process generation {_s.UpgradeOptions.ProcessGeneration + 1}) accepts on {outcome.SocketsPassed} sockets", outcome.Declined);
        CheckLetGo();
    }

    /// <summary>The successor died within the stability period: accept on the same sockets again (their queues are shared) and say so.</summary>
    private void ResumeAccepting(UpgradeInProgress upgrade, Coordinator.SuccessorDied died)
    {
        var reason = $"{died.Reason}; node {Environment.ProcessId} accepts on the same sockets again";
        Enter(NodeLife.PhaseOf(_s));
        _s.LastUpgradeFailure = $"failed: {reason}";
        foreach (var shard in _s.Shards.Values.Select(e => e.Shard)) shard.Parked = false;
        TellGroups(Group.Resume.Instance); // which steers the groups again too
        SystemdNotify.TryNotify($"MAINPID={Environment.ProcessId}");
        _log.Error("Upgrade failed, node {ProcessId} serves on: {Reason}", Environment.ProcessId, reason);
        upgrade.Requester?.Tell(new Coordinator.CommandFailed(Coordinator.Upgrade.Instance, $"upgrade failed: {reason}"));
        // The successor had replaced the control socket's file: take the path back (the predecessor actor takes its own).
        if (ActorRegistry.For(Context.System).TryGet<Control.Control.Marker>(out var control))
            control.Tell(Control.Control.Claim.Instance);
        CheckForeignHolders();
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

    /// <summary>A successor may have attached its own steering program to the groups (they are the same kernel groups): put ours back.</summary>
    private void SteerAll() => TellGroups(Group.Steer.Instance);

    /// <summary>Once every passed socket's copy here is closed, the predecessor actor closes the connection: the successor waits for that.</summary>
    private void CheckLetGo()
    {
        if (!_s.LetGo || _s.LetGoSent) return;
        if (_s.Shards.Values.Any(e => e.Shard.LetGo && !e.Shard.SocketClosed)) return;
        _s.LetGoSent = true;
        UpgradeActor?.Tell(Predecessor.LetGo.Instance);
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
