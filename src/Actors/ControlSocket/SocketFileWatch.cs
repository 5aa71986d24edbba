using Akka.Actor;
using Akka.Event;

namespace ShardRuntime.Actors.ControlSocket;

/// <summary>
/// Keeps a bound control or upgrade socket's file its owner's: on <see cref="Control.CheckSocketFiles"/> (its owner's
/// timer, SIGHUP) it checks the file (<see cref="ControlSocketFile.RecheckAsync"/>) and hands its owner the socket bound
/// again when the file was deleted or replaced by a stale one, so that the CLI or a successor finds the node by path
/// again. Used on its owner actor's thread only; the owner swaps the sockets (it is their only owner).
/// </summary>
internal sealed class SocketFileWatch(string socketName, TimeSpan probeTimeout, ILoggingAdapter log)
{
    private bool _checking;
    private volatile bool _stopped;
    private ulong _knownInode;

    /// <summary>
    /// Starts a check of <paramref name="bound"/>'s file unless one is running; its outcome arrives at
    /// <paramref name="self"/> as <see cref="Checked"/>. A socket bound again after the owner stopped is closed.
    /// </summary>
    public void Start(ControlSocketFile.Bound? bound, IActorRef self)
    {
        if (bound is null || _checking || _stopped) return;
        _checking = true;
        ControlSocketFile.RecheckAsync(bound, _knownInode, probeTimeout).ContinueWith(t =>
        {
            var outcome = t.IsCompletedSuccessfully ? t.Result : new ControlSocketFile.Recheck(
                "not checked", null, t.Exception?.GetBaseException().Message ?? "cancelled", 0);
            if (_stopped && outcome.Rebound is { } orphan) ControlSocketFile.Close(orphan);
            else self.Tell(new Checked(bound, outcome));
        }, TaskScheduler.Default);
    }

    /// <summary>
    /// The outcome of a check: the socket bound again at the path (the owner closes <see cref="Checked.Old"/> and serves
    /// this one), or null. Logged: a warning naming what was found, once per file found.
    /// </summary>
    public ControlSocketFile.Bound? Finish(Checked m)
    {
        _checking = false;
        var outcome = m.Outcome;
        if (outcome.Found is null) return null;
        if (outcome.Rebound is { } rebound)
        {
            log.Warning("{Socket} socket file {SocketPath} was {Found}; bound again", socketName, rebound.Path, outcome.Found);
            return rebound;
        }
        _knownInode = outcome.FoundInode;
        log.Warning("{Socket} socket file {SocketPath} was {Found}; left alone, not bound again: {Reason}",
            socketName, m.Old.Path, outcome.Found, outcome.Refusal);
        return null;
    }

    /// <summary>The owner stopped: a check still running closes what it binds.</summary>
    public void Stop() => _stopped = true;

    /// <summary>Sender: a check (to its owner, the socket's actor). <see cref="Old"/> is the socket that was checked.</summary>
    public sealed record Checked(ControlSocketFile.Bound Old, ControlSocketFile.Recheck Outcome);
}
