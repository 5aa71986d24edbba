using Akka.Actor;
using ShardRuntime.Actors.Coordination;
using ShardRuntime.Actors.Settings;

namespace ShardRuntime.Actors.Upgrade;

/// <summary>
/// Protocol of the predecessor side of an upgrade: the predecessor actor (<c>/user/shard-runtime/upgrade</c>) runs one
/// upgrade at a time (starts the successor for an <see cref="Coordination.Coordinator.Upgrade"/>, passes the sockets,
/// watches the successor, answers who asked); its child, the upgrade socket actor (<c>upgrade/socket</c>), serves the
/// upgrade socket (a Unix domain socket, mode 0600) through which a successor process receives this node's listening
/// sockets, refusing peers of another uid (SO_PEERCRED). The coordinator decides whether an upgrade may start and does
/// what the upgrade needs done to the sockets.
/// </summary>
public static class Predecessor
{
    /// <summary>Marker type under which the upgrade socket actor registers itself in Akka.Hosting's ActorRegistry (<see cref="Claim"/>, <see cref="WaitUntilBound"/>).</summary>
    public sealed class Marker
    {
        private Marker() { }
    }

    /// <summary>Name of the predecessor actor under the coordinator.</summary>
    public const string ActorName = "upgrade";

    /// <summary>Name of the upgrade socket actor under the predecessor actor.</summary>
    public const string SocketActorName = "socket";

    internal static Props Props(UpgradeSettings settings, IActorRef coordinator, UpgradeOptions options) =>
        Akka.Actor.Props.Create(() => new PredecessorActor(settings, coordinator, options));

    /// <summary>
    /// Sender: the coordinator, for an upgrade it accepted (it is upgrading now). Starts the successor process. No reply
    /// here: <paramref name="Requester"/> hears how the upgrade ended (<see cref="Coordination.Coordinator.Upgraded"/>
    /// or Status.Failure(<see cref="Coordination.CommandFailedException"/>)), and the coordinator what to do with its sockets.
    /// </summary>
    internal sealed record StartSuccessor(IActorRef Requester);

    /// <summary>
    /// Sender: the coordinator, once it closed every copy of the sockets it let go of (after the stability period). The
    /// upgrade connection is closed: the successor, which waits for that, now steers and retires the sockets. No reply.
    /// </summary>
    internal sealed class CopiesClosed
    {
        public static readonly CopiesClosed Instance = new();
        private CopiesClosed() { }
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
        /// <summary>The one instance (the message carries no data).</summary>
        public static readonly Claim Instance = new();
        private Claim() { }
    }

    /// <summary>Sender: the host, tests. Reply once the upgrade socket is bound: <see cref="Bound"/> or <see cref="BindFailed"/>.</summary>
    public sealed class WaitUntilBound
    {
        /// <summary>The one instance (the message carries no data).</summary>
        public static readonly WaitUntilBound Instance = new();
        private WaitUntilBound() { }
    }

    /// <summary>The upgrade socket is served at <paramref name="SocketPath"/>.</summary>
    public sealed record Bound(string SocketPath);

    /// <summary>The upgrade socket could not be served; <paramref name="Reason"/> says why. Upgrades are refused then.</summary>
    public sealed record BindFailed(string SocketPath, string Reason);
}
