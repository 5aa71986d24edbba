using Akka.Actor;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Upgrade;

namespace ShardRuntime.Actors.Upgrade;

/// <summary>
/// Protocol of the successor actor (<c>/user/upgrade-successor</c>): a process started with <c>run --upgrade-from</c>
/// received its predecessor's listening sockets before its actor system started (its coordinator adopts them as it
/// starts); this actor runs the rest of the successor's part of the upgrade against the deadlines of
/// <c>shard-runtime.upgrade</c>: it waits for the coordinator to settle what it adopted and declined (within
/// <see cref="UpgradeSettings.Timeout"/>), says Ready (the predecessor's answer within <see cref="UpgradeSettings.StepTimeout"/>),
/// claims the control and upgrade socket paths, then waits for the predecessor to let go of its copies (its announced
/// hold plus <see cref="UpgradeSettings.LetGoMargin"/>) before it tells the coordinator the upgrade is complete. When
/// the predecessor abandoned the upgrade, it tells the coordinator to withdraw (stop accepting, leave the sockets to
/// the predecessor, drain and stop).
/// </summary>
public static class Successor
{
    /// <summary>Name of the successor actor under /user.</summary>
    public const string ActorName = "upgrade-successor";

    /// <summary>
    /// Props of the successor actor. It owns <paramref name="connection"/> (the upgrade connection to the predecessor,
    /// every socket received) from now on and tells <paramref name="coordinator"/> what it needs to know.
    /// <paramref name="claimControlSocket"/>: whether the node serves a control socket whose path it claims.
    /// </summary>
    public static Props Props(UpgradeSettings settings, UpgradeClient connection, IActorRef coordinator, bool claimControlSocket)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(coordinator);
        return Akka.Actor.Props.Create(() => new SuccessorActor(settings, connection, coordinator, claimControlSocket));
    }

    /// <summary>
    /// Sender: the host. Reply once the successor serves the sockets alone or with a predecessor that stopped accepting
    /// (<see cref="Serving"/>), or once the upgrade failed (<see cref="Failed"/>); always within
    /// <see cref="UpgradeSettings.SuccessorAnswerTimeout"/>. Asked again, the same answer.
    /// </summary>
    public sealed class WaitUntilServing
    {
        /// <summary>The one instance (the message carries no data).</summary>
        public static readonly WaitUntilServing Instance = new();
        private WaitUntilServing() { }
    }

    /// <summary>
    /// Reply to <see cref="WaitUntilServing"/>: the predecessor stopped accepting (or is gone:
    /// <paramref name="PredecessorGone"/>); this node serves <paramref name="Adopted"/> adopted sockets and declined
    /// <paramref name="Declined"/>. The control and upgrade socket paths are this node's unless <paramref name="Unclaimed"/>
    /// names why one is not (the node serves on without it).
    /// </summary>
    public sealed record Serving(int Adopted, int Declined, bool PredecessorGone, IReadOnlyList<string> Unclaimed);

    /// <summary>
    /// Reply to <see cref="WaitUntilServing"/>: the upgrade failed; <paramref name="Reason"/> says why. Before Ready the
    /// predecessor keeps its sockets (it rolls back); <paramref name="Withdrawn"/>: after Ready the predecessor
    /// abandoned it and serves on, and this node withdraws (its actor system ends once it drained).
    /// </summary>
    public sealed record Failed(string Reason, bool Withdrawn);
}
