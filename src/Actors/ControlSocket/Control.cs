using Akka.Actor;
using ShardRuntime.Actors.Settings;

namespace ShardRuntime.Actors.ControlSocket;

/// <summary>
/// Protocol of the control socket server (<c>/user/control</c>): a Unix domain socket, mode 0600, through which the
/// command-line tool of the same user talks to this node. Each connection carries one request and one reply
/// (<see cref="ControlJson"/>); the server turns the request into a coordinator command and the coordinator's answer
/// into the reply. Peers whose uid (SO_PEERCRED) is not the node's are refused before anything is read.
/// </summary>
public static class Control
{
    /// <summary>Name of the control socket server under /user.</summary>
    public const string ActorName = "control";

    /// <summary>Marker type under which the server is registered in Akka.Hosting's ActorRegistry.</summary>
    public sealed class Marker
    {
        private Marker() { }
    }

    /// <summary>
    /// Props of the server. It binds <see cref="ControlSettings.SocketPath"/> as it starts and asks
    /// <paramref name="coordinator"/> (or, for cluster-wide requests, <paramref name="cluster"/>: null when the node is not
    /// in a cluster) on behalf of its clients. Whether binding worked: <see cref="WaitUntilBound"/>.
    /// </summary>
    /// <param name="settings">The control socket's settings.</param>
    /// <param name="coordinator">The node's coordinator.</param>
    /// <param name="cluster">The node's cluster actor; null when the node is not in a cluster.</param>
    /// <param name="deferBind">
    /// A successor process: bind only when told <see cref="Claim"/> (once the predecessor released the listening
    /// sockets), replacing the predecessor's socket file at the same path.
    /// </param>
    public static Props Props(ControlSettings settings, IActorRef coordinator, bool deferBind = false, IActorRef? cluster = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(coordinator);
        return Akka.Actor.Props.Create(() => new ControlServerActor(settings, coordinator, cluster, deferBind));
    }

    /// <summary>
    /// Sender: the host of a successor, once its predecessor released the listening sockets. The server binds now,
    /// renaming its fresh socket over the predecessor's file (atomic), so the command-line tool reaches this process
    /// from then on. Told while serving (the coordinator, when its successor died within the stability period), the
    /// server binds the path anew the same way, taking it back from the dead successor. Reply: <see cref="Bound"/> or <see cref="BindFailed"/>.
    /// </summary>
    public sealed class Claim
    {
        /// <summary>The one instance (the message carries no data).</summary>
        public static readonly Claim Instance = new();
        private Claim() { }
    }

    /// <summary>
    /// Sender: the host, tests. Asks the server to reply once its socket is bound: <see cref="Bound"/>, or
    /// <see cref="BindFailed"/> (another node serves the path, a file that is not a socket is in the way, no permission).
    /// A server that failed to bind stays alive without a socket and gives the same answer to every later ask.
    /// </summary>
    public sealed class WaitUntilBound
    {
        /// <summary>The one instance (the message carries no data).</summary>
        public static readonly WaitUntilBound Instance = new();
        private WaitUntilBound() { }
    }

    /// <summary>
    /// The pid of the process serving a control (or upgrade) socket at <paramref name="socketPath"/>, as the kernel tells
    /// a client that connects (SO_PEERCRED); 0 when something holds the path without accepting within
    /// <paramref name="timeout"/>; null when nothing listens there (no file, or a stale one).
    /// </summary>
    public static Task<int?> ServedByAsync(string socketPath, TimeSpan timeout) => ControlSocketFile.ServedByAsync(socketPath, timeout);

    /// <summary>
    /// Sender: the host on SIGHUP, published on the actor system's EventStream (and each server's own timer, every
    /// <c>shard-runtime.control.check-interval</c>). Receivers: the control server and the upgrade actor, which check
    /// that their socket files are still theirs and bind them again when deleted or replaced by a stale one (logged as
    /// a warning naming what they found). No reply.
    /// </summary>
    public sealed class CheckSocketFiles
    {
        /// <summary>The one instance (the message carries no data).</summary>
        public static readonly CheckSocketFiles Instance = new();
        private CheckSocketFiles() { }
    }

    /// <summary>Reply to <see cref="WaitUntilBound"/>: clients can connect to <paramref name="SocketPath"/>.</summary>
    public sealed record Bound(string SocketPath);

    /// <summary>Reply to <see cref="WaitUntilBound"/>: the server does not serve <paramref name="SocketPath"/>; <paramref name="Reason"/> says why.</summary>
    public sealed record BindFailed(string SocketPath, string Reason);
}
