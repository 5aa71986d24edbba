using Akka.Actor;
using ShardRuntime.Actors.Coordination;
using ShardRuntime.Actors.Settings;

namespace ShardRuntime.Actors.Upgrade;

/// <summary>
/// Protocol of the upgrade actor (<c>/user/shard-runtime/upgrade</c>): it serves the upgrade socket (a Unix domain
/// socket, mode 0600) through which a successor process receives this node's listening sockets, refuses peers of
/// another uid (SO_PEERCRED) and second successors while one is served, and starts the successor for an
/// <see cref="Coordination.Coordinator.Upgrade"/>. The coordinator decides; this actor talks to the successor.
/// </summary>
public static class Predecessor
{
    /// <summary>Marker type under which the predecessor actor registers itself in Akka.Hosting's ActorRegistry.</summary>
    public sealed class Marker
    {
        private Marker() { }
    }

    /// <summary>Name of the upgrade actor under the coordinator.</summary>
    public const string ActorName = "upgrade";

    internal static Props Props(UpgradeSettings settings, IActorRef coordinator, UpgradeOptions options) =>
        Akka.Actor.Props.Create(() => new PredecessorActor(settings, coordinator, options));

    /// <summary>Sender: the coordinator, for an upgrade it accepted. Starts the successor process. No reply (the coordinator hears of the outcome).</summary>
    internal sealed class StartSuccessor
    {
        public static readonly StartSuccessor Instance = new();
        private StartSuccessor() { }
    }

    /// <summary>
    /// Sender: the coordinator, once it closed its copies of the sockets it handed over (after the stability period). The
    /// upgrade connection is closed: the successor, which waits for that, now steers and retires the sockets. No reply.
    /// </summary>
    internal sealed class LetGo
    {
        public static readonly LetGo Instance = new();
        private LetGo() { }
    }

    /// <summary>Sender: the coordinator (the node drains). An upgrade in progress is abandoned with <paramref name="Reason"/>. No reply.</summary>
    internal sealed record Abort(string Reason);

    /// <summary>
    /// Sender: the successor actor, once its predecessor let go of the sockets. The upgrade socket is bound now,
    /// replacing the predecessor's file at the same path (it was deferred, <see cref="UpgradeOptions.DeferSocketFiles"/>).
    /// Told while serving, the path is bound anew the same way (taken back). Reply: <see cref="Bound"/> or <see cref="BindFailed"/>.
    /// </summary>
    public sealed class Claim
    {
        public static readonly Claim Instance = new();
        private Claim() { }
    }

    /// <summary>Sender: the host, tests. Reply once the upgrade socket is bound: <see cref="Bound"/> or <see cref="BindFailed"/>.</summary>
    public sealed class WaitUntilBound
    {
        public static readonly WaitUntilBound Instance = new();
        private WaitUntilBound() { }
    }

    /// <summary>The upgrade socket is served at <paramref name="SocketPath"/>.</summary>
    public sealed record Bound(string SocketPath);

    /// <summary>The upgrade socket could not be served; <paramref name="Reason"/> says why. Upgrades are refused then.</summary>
    public sealed record BindFailed(string SocketPath, string Reason);
}
