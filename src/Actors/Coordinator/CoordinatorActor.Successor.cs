using Akka.Actor;
using Akka.Event;
using Akka.Hosting;
using ShardRuntime.Runtime.Upgrade;
using ShardRuntime.Actors.Upgrade;
using ShardRuntime.Runtime.Systemd;
using ShardRuntime.Actors.Listener;

namespace ShardRuntime.Actors.Coordinator;

/// <summary>
/// The node's side of an upgrade after the sockets were passed: standing by while the successor is watched for the stability
/// period (shards not accepting, sockets open), letting go once it proved stable, accepting again if it died, and
/// checking the kernel's table that nobody else holds the sockets once a successor was given up.
/// </summary>
internal sealed partial class CoordinatorActor
{
    /// <summary>The upgrade watching successor <paramref name="pid"/>, or null (a stale report, or the node drains anyway).</summary>
    private UpgradeInProgress? Watched(int pid) =>
        _s.Upgrade is { Phase: UpgradeInProgress.Watching } upgrade && upgrade.SuccessorProcessId == pid && !_s.Draining ? upgrade : null;

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
