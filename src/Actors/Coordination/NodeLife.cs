using Akka.Actor;

namespace ShardRuntime.Actors.Coordination;

/// <summary>
/// Where the node is in its life, as its registry records it (<see cref="CoordinatorState.Life"/>: a restarted
/// coordinator carries on in it). The coordinator's behaviour follows it (one <c>Become</c> per phase), and each phase
/// carries what only it needs. The decisions about it are pure: tests call them without an actor system.
/// </summary>
internal abstract record NodeLife
{
    private NodeLife() { }

    /// <summary>The registry before its coordinator first started.</summary>
    public sealed record Created : NodeLife;

    /// <summary>The start-up listeners' handler code loads; changes wait for it.</summary>
    public sealed record Starting : NodeLife;

    /// <summary>
    /// Serving, while inherited sockets wait for the cluster's desired state before the ones no listener takes are
    /// declined; <paramref name="AdoptionRequesters"/> asked what was adopted and wait too (upgrade.step-timeout at most).
    /// </summary>
    public sealed record AwaitingClusterState(IReadOnlyList<IActorRef> AdoptionRequesters) : NodeLife;

    /// <summary>Serving: every change is made.</summary>
    public sealed record Serving : NodeLife;

    /// <summary>Passing the sockets to a successor, or watching it for the stability period: changes are refused.</summary>
    public sealed record Upgrading(UpgradeProgress Progress) : NodeLife;

    /// <summary>
    /// Draining for <paramref name="Cause"/>: changes are refused; open connections finish. After letting go of the
    /// sockets to a successor, <paramref name="CopiesClosed"/> says the predecessor actor heard that every copy here is
    /// closed (the successor waits for that).
    /// </summary>
    public sealed record Draining(DrainCause Cause, bool CopiesClosed = false) : NodeLife;

    /// <summary>Let go of its sockets (<paramref name="Cause"/>) and drained: the actor system was asked to stop.</summary>
    public sealed record Stopping(DrainCause Cause) : NodeLife;

    /// <summary>The node passed its sockets to a successor, or withdrew for its predecessor: it only drains, then stops.</summary>
    public bool LetGo => this is Draining { Cause: not DrainCause.Shutdown } or Stopping;

    /// <summary>The node drains (for shutdown or after letting go) or stops.</summary>
    public bool IsDraining => this is Draining or Stopping;

    /// <summary>The phase's name as logs print it.</summary>
    public string Name => GetType().Name;

    /// <summary>Why no change (scale, settings, reload, cluster state) can be made in <paramref name="life"/>, or null.</summary>
    public static string? ChangeRefusal(NodeLife life) => life switch
    {
        _ when life.LetGo => "the node let go of its listening sockets to a successor and is draining",
        Draining => "the node is draining for shutdown",
        Upgrading { Progress: var upgrade } =>
            $"an upgrade is in progress ({upgrade.Describe()}{(upgrade.SuccessorProcessId is { } pid ? $", successor pid {pid}" : "")}, since {upgrade.Since:HH:mm:ss})",
        _ => null,
    };

    /// <summary>Why passing the sockets to a successor cannot start in <paramref name="life"/>, or null.</summary>
    public static string? UpgradeRefusal(NodeLife life) => ChangeRefusal(life) ?? life switch
    {
        Created or Starting => "the node is still starting",
        AwaitingClusterState => "the node still waits for the cluster's desired state to settle its inherited sockets (upgrade.step-timeout at most)",
        _ => null,
    };

    /// <summary>
    /// The phase after the node let go of its sockets for <paramref name="cause"/> (a successor serves them now): it
    /// drains; or <paramref name="life"/> itself when it had already let go (the first cause stands).
    /// </summary>
    public static NodeLife AfterLettingGo(NodeLife life, DrainCause cause) => life.LetGo ? life : new Draining(cause);

    /// <summary>The phase once every shard is gone: a node that let go stops; any other stays where it is.</summary>
    public static NodeLife WhenDrained(NodeLife life) => life is Draining { Cause: not DrainCause.Shutdown } drain ? new Stopping(drain.Cause) : life;

    /// <summary>The phase after an upgrade ended without a successor serving: an upgrading node serves again; a draining one drains on.</summary>
    public static NodeLife AfterUpgradeFailed(NodeLife life) => life is Upgrading ? new Serving() : life;
}

/// <summary>Why a node drains.</summary>
internal enum DrainCause
{
    /// <summary>Asked to (SIGTERM, the CLI's drain, the host stopping).</summary>
    Shutdown,

    /// <summary>It passed its sockets to a successor, which accepts on them now.</summary>
    PassedSockets,

    /// <summary>As a successor, it withdrew: its predecessor abandoned the upgrade and serves on.</summary>
    Withdrew,
}

/// <summary>An upgrade under way, as status shows it: what it waits for, the successor's pid once known, and since when.</summary>
internal sealed record UpgradeProgress(UpgradeStep Step, int? SuccessorProcessId, DateTimeOffset Since)
{
    /// <summary>What the upgrade waits for, as status and refusals say it.</summary>
    public string Describe() => Step switch
    {
        UpgradeStep.StartingSuccessor => "starting the successor",
        UpgradeStep.WaitingForSuccessor => "waiting for the successor to connect",
        UpgradeStep.PassingSockets => "passing sockets",
        _ => "watching the successor for the stability period",
    };
}

/// <summary>Where an upgrade of this node (as the predecessor) stands.</summary>
internal enum UpgradeStep
{
    /// <summary>The predecessor actor starts the successor process.</summary>
    StartingSuccessor,

    /// <summary>The successor runs; it has not connected to the upgrade socket yet.</summary>
    WaitingForSuccessor,

    /// <summary>The sockets are being passed to the successor.</summary>
    PassingSockets,

    /// <summary>The successor accepts; this node keeps its copies parked for the stability period.</summary>
    Watching,
}
