using ShardRuntime.Actors.Cluster.Transport;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using ShardRuntime.Actors.Handlers;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Upgrade;
using ShardRuntime.Runtime.Sockets;

namespace ShardRuntime.Actors.Coordination;

/// <summary>
/// Protocol of the coordinator (<c>/user/shard-runtime</c>): it holds the desired state of every named listener
/// and makes the sockets and shard actors match it. Config, the control socket, signals and (later) the cluster
/// all speak to it with these messages; none of them touches a socket directly.
/// </summary>
public static class Coordinator
{
    /// <summary>Name of the coordinator actor under /user.</summary>
    public const string ActorName = "shard-runtime";

    /// <summary>Marker type under which the coordinator is registered in Akka.Hosting's ActorRegistry.</summary>
    public sealed class Marker
    {
        private Marker() { }
    }

    /// <summary>Props of the coordinator. It binds <paramref name="settings"/>' listeners when it starts.</summary>
    /// <param name="settings">The listeners to bind at start.</param>
    /// <param name="handlers">The handlers known by name.</param>
    /// <param name="socketFactory">How listening sockets are made (default: <see cref="ReuseportSocketFactory"/>).</param>
    /// <param name="readListeners">
    /// Where a <see cref="Reload"/> of every listener reads the listeners again (the host: its config file); it may
    /// throw to refuse the reload with the exception's message. Null: a reload reloads handler code only.
    /// </param>
    /// <param name="transport">How other processes reach this node's actors (shown by status); null: a lone node.</param>
    /// <param name="upgrade">
    /// How this node takes part in process upgrades: sockets it inherited (from a predecessor process or systemd), and
    /// how it starts a successor. Null: it binds every socket itself and `upgrade` is refused.
    /// </param>
    public static Props Props(
        ShardRuntimeSettings settings,
        HandlerCatalog handlers,
        IListenerSocketFactory? socketFactory = null,
        Func<IReadOnlyList<ListenerSettings>>? readListeners = null,
        UpgradeOptions? upgrade = null,
        ClusterTransport? transport = null) =>
        CreateProps(new CoordinatorState(upgrade ?? new UpgradeOptions(), transport ?? ClusterTransport.Lone), settings, handlers, socketFactory ?? ReuseportSocketFactory.Instance, readListeners);

    private static Props CreateProps(
        CoordinatorState state, ShardRuntimeSettings settings, HandlerCatalog handlers, IListenerSocketFactory socketFactory,
        Func<IReadOnlyList<ListenerSettings>>? readListeners) =>
        // The registry is made once, here: a restarted coordinator gets this same object.
        Akka.Actor.Props.Create(() => new CoordinatorActor(state, settings, handlers, socketFactory, readListeners));

    /// <summary>
    /// Sender: the CLI (<c>upgrade</c>), user code. Starts a successor process (<see cref="UpgradeOptions.StartSuccessor"/>),
    /// serves it every listening socket through the upgrade socket and, once it says it accepts, stops accepting (keeping
    /// its copies of the sockets while it watches the successor for upgrade.stability-period), then closes them and
    /// drains; the node then exits. Refused while another upgrade runs, while the node drains, while a shard still
    /// drains its accept queue, and when the node cannot start a successor. Reply: <see cref="Upgraded"/> once the
    /// successor took over and served through the stability period, or Status.Failure(<see cref="CommandFailedException"/>) saying why it did
    /// not (rolled back: the successor was ended; or it died within the period: the node accepts again and serves on).
    /// </summary>
    public sealed class Upgrade : ICommand
    {
        /// <summary>The one instance (the message carries no data).</summary>
        public static readonly Upgrade Instance = new();
        private Upgrade() { }
    }

    /// <summary>Reply to <see cref="Upgrade"/>: the successor (its pid and process generation) serves the sockets now.</summary>
    public sealed record Upgraded(int SuccessorProcessId, int ProcessGeneration, int Sockets, IReadOnlyList<long> Declined);

    /// <summary>
    /// Sender: the host of a successor that inherited sockets. Which of them it serves (by inode) and which it declined
    /// (no listener of its configuration wants them; it closed its copies). Reply: <see cref="Adoption"/>.
    /// </summary>
    public sealed class GetAdoption : ICommand
    {
        /// <summary>The one instance (the message carries no data).</summary>
        public static readonly GetAdoption Instance = new();
        private GetAdoption() { }
    }

    /// <summary>Reply to <see cref="GetAdoption"/>.</summary>
    public sealed record Adoption(IReadOnlyList<long> Adopted, IReadOnlyList<long> Declined);

    /// <summary>
    /// Sender: the host of a successor whose predecessor abandoned the upgrade (it timed out and serves on). Every
    /// shard stops accepting without closing the shared sockets for the predecessor, open connections drain, and the
    /// node stops. No reply; the node's actor system terminates.
    /// </summary>
    public sealed class Withdraw : ICommand
    {
        /// <summary>The one instance (the message carries no data).</summary>
        public static readonly Withdraw Instance = new();
        private Withdraw() { }
    }

    /// <summary>
    /// Sender: the host of a successor, once its predecessor released the sockets (or is gone). Until then the successor
    /// leaves the shared reuseport groups as the predecessor set them (no steering, no retiring of adopted sockets,
    /// which the predecessor still holds); now it steers them and retires adopted sockets beyond its shard counts. No reply.
    /// </summary>
    public sealed class PredecessorLetGo : ICommand
    {
        /// <summary>The one instance (the message carries no data).</summary>
        public static readonly PredecessorLetGo Instance = new();
        private PredecessorLetGo() { }
    }

    /// <summary>Sender: the predecessor actor (<c>upgrade</c>). A successor (pid as seen here) asks for the sockets. Reply: <see cref="SocketsToPass"/> or Status.Failure(<see cref="CommandFailedException"/>).</summary>
    internal sealed record PassSockets(int PeerProcessId) : ICommand;

    /// <summary>Reply to <see cref="PassSockets"/>: every accepting socket with its label, and this node's process generation.</summary>
    internal sealed record SocketsToPass(IReadOnlyList<(Socket Socket, SocketLabel Label)> Sockets, int ProcessGeneration);

    /// <summary>Sender: the predecessor actor (<c>upgrade</c>). The successor it started has pid <paramref name="ProcessId"/> (status shows it). No reply.</summary>
    internal sealed record SuccessorStarted(int ProcessId);

    /// <summary>
    /// Sender: the predecessor actor (<c>upgrade</c>). The successor <paramref name="ProcessId"/> accepts on the passed
    /// sockets and is watched for the stability period: every shard stops accepting but keeps its socket and
    /// connections; the listeners of the <paramref name="Declined"/> sockets retire here. No reply.
    /// </summary>
    internal sealed record StandBy(int ProcessId, IReadOnlyList<long> Declined);

    /// <summary>
    /// Sender: the predecessor actor (<c>upgrade</c>). The successor serves the sockets (<paramref name="Why"/> says how):
    /// the node closes its copies, retires the <paramref name="Declined"/> ones, drains and stops; it tells the
    /// predecessor actor <see cref="ShardRuntime.Actors.Upgrade.Predecessor.CopiesClosed"/> once every copy is closed. No reply.
    /// </summary>
    internal sealed record LetGoOfSockets(string Why, IReadOnlyList<long> Declined);

    /// <summary>
    /// Sender: the predecessor actor (<c>upgrade</c>). The upgrade ended without a successor serving (<paramref name="Failure"/>
    /// says why: rolled back, refused, or the successor died within the stability period); a rolled-back successor has
    /// been ended by then. The node serves on its sockets: steered again, and accepting again when
    /// <paramref name="SuccessorServed"/> (its shards were parked). No reply.
    /// </summary>
    internal sealed record UpgradeFailed(string Failure, bool SuccessorServed);

    /// <summary>Sender: the coordinator itself. Who else holds this node's listening sockets, after a successor was given up (null: nobody). No reply.</summary>
    internal sealed record ForeignHoldersChecked(string? Finding);

    /// <summary>Marker of every command the coordinator accepts, so a refusal can name the command it refuses.</summary>
    public interface ICommand;

    /// <summary>
    /// Sender: anyone. Asks the coordinator to reply once its start-up listeners are bound:
    /// <see cref="Started"/>, or Status.Failure(<see cref="CommandFailedException"/>) with the bind error when a listener could not be bound.
    /// </summary>
    public sealed class WaitUntilStarted : ICommand
    {
        /// <summary>The one instance (the message carries no data).</summary>
        public static readonly WaitUntilStarted Instance = new();
        private WaitUntilStarted() { }
    }

    /// <summary>Reply to <see cref="WaitUntilStarted"/>: every configured listener is bound and accepting.</summary>
    public sealed class Started
    {
        /// <summary>The one instance (the message carries no data).</summary>
        public static readonly Started Instance = new();
        private Started() { }
    }

    /// <summary>
    /// Sender: the CLI (through the control socket), user code, tests. Sets the number of listening sockets of a
    /// running listener. New shards accept at once; retiring shards stop accepting and drain their connections.
    /// Reply: <see cref="ScaledTo"/> once the new shards are bound, or Status.Failure(<see cref="CommandFailedException"/>).
    /// </summary>
    public sealed record ScaleTo(string Listener, int Shards) : ICommand;

    /// <summary>Reply to <see cref="ScaleTo"/>: the listener now has <paramref name="Shards"/> accepting shards.</summary>
    public sealed record ScaledTo(string Listener, int Shards, int Retiring);

    /// <summary>
    /// Sender: the host (on start and on reload). Replaces the whole desired state: new listeners are bound,
    /// listeners no longer declared are retired, changed ones are reconciled.
    /// Reply: <see cref="SettingsApplied"/> or Status.Failure(<see cref="CommandFailedException"/>) (nothing is changed when validation fails).
    /// </summary>
    public sealed record ApplySettings(IReadOnlyList<ListenerSettings> Listeners) : ICommand;

    /// <summary>Reply to <see cref="ApplySettings"/>.</summary>
    public sealed class SettingsApplied
    {
        /// <summary>The one instance (the message carries no data).</summary>
        public static readonly SettingsApplied Instance = new();
        private SettingsApplied() { }
    }

    /// <summary>
    /// Sender: the CLI (<c>reload [listener]</c>), SIGHUP, user code. For every listener (null), first reads the
    /// listeners again where the node was told to (the host: its config file) and applies them: listeners no longer
    /// declared retire, new ones are bound, changed ones reconciled; a file that cannot be read refuses the whole
    /// reload. Then loads the handler of <paramref name="Listener"/> (null: of every listener that was not just
    /// created) again as a new generation: from its assembly file for a user handler, the same code
    /// for a built-in. New connections get the new generation at once; open ones finish on theirs, and a generation
    /// whose last connection ended is unloaded. A handler that fails to load or initialise is refused and its
    /// listener keeps its running generation. Handler code is read and loaded off the coordinator, within
    /// <c>shard-runtime.handler-load-timeout</c>; the coordinator answers <see cref="GetStatus"/> and <see cref="ScaleTo"/>
    /// meanwhile, and other changes wait for it. A configuration without listeners is refused unless
    /// <paramref name="AllowEmpty"/>. Reply: <see cref="Reloaded"/>, or Status.Failure(<see cref="CommandFailedException"/>) naming
    /// each listener that refused (the others did reload).
    /// </summary>
    /// <param name="Listener">The listener to reload; null: the configuration and every listener.</param>
    /// <param name="ClusterGeneration">
    /// Sent by a rolling reload of the cluster: the listener's new cluster-wide handler generation, recorded so that the
    /// node does not reload again when the desired state reaches it.
    /// </param>
    /// <param name="AllowEmpty">
    /// Whether a configuration without any listener may close every listener the node serves; without it such a
    /// reload is refused (an empty or truncated file is more often a mistake than a wish).
    /// </param>
    public sealed record Reload(string? Listener, int? ClusterGeneration = null, bool AllowEmpty = false) : ICommand;

    /// <summary>
    /// Reply to <see cref="Reload"/>: the generation each reloaded listener serves now, and every other change the
    /// reload made, one line each (listeners added, removed, changed with what changed).
    /// </summary>
    public sealed record Reloaded(IReadOnlyList<ListenerGeneration> Listeners, IReadOnlyList<string>? Changes = null);

    /// <summary>A listener and the handler generation it serves.</summary>
    public sealed record ListenerGeneration(string Listener, int Generation);

    /// <summary>
    /// Sender: the cluster actor (<see cref="Cluster.ClusterListeners"/>), whenever the cluster's desired state as it
    /// applies to this node changes. Replaces the overrides: the desired state becomes the node's configured listeners
    /// with these over them, and is applied as <see cref="ApplySettings"/> is (all or nothing); a listener whose cluster
    /// handler generation rose is reloaded. When the whole state cannot be applied, it is applied one listener at a time,
    /// so that one listener's trouble holds no other back. Reply: <see cref="ClusterStateApplied"/> (with the listeners it
    /// could not apply), or Status.Failure(<see cref="CommandFailedException"/>) when the node is busy (nothing changed; the cluster actor tries again).
    /// </summary>
    public sealed record ApplyClusterState(IReadOnlyList<ClusterOverride> Overrides) : ICommand;

    /// <summary>
    /// Reply to <see cref="ApplyClusterState"/>: the state is applied, except for the listeners in
    /// <paramref name="Problems"/> (why each could not be: a port taken, an unknown handler), which keep what they had.
    /// </summary>
    public sealed record ClusterStateApplied(IReadOnlyList<string> Problems);

    /// <summary>
    /// The cluster's desired state for one listener, resolved for this node (its roles, its listener-defaults).
    /// </summary>
    /// <param name="Listener">The listener's name.</param>
    /// <param name="Served">False: this node must not serve it (removed, or not one of its roles).</param>
    /// <param name="Shards">Shards on this node; null: as configured.</param>
    /// <param name="Definition">The listener as the cluster defines it; null: as this node's file defines it.</param>
    /// <param name="HandlerGeneration">The cluster-wide handler generation; a rise reloads the listener.</param>
    /// <param name="GenerationRaisedAt">When the generation was last raised, by the writer's clock (a first sight of a raised generation reloads a listener loaded before it).</param>
    public sealed record ClusterOverride(string Listener, bool Served, int? Shards, ListenerSettings? Definition, int HandlerGeneration, DateTimeOffset GenerationRaisedAt = default);

    /// <summary>Sender: anyone (the CLI's <c>status</c>). Reply: <see cref="NodeStatus"/>.</summary>
    public sealed class GetStatus : ICommand
    {
        /// <summary>The one instance (the message carries no data).</summary>
        public static readonly GetStatus Instance = new();
        private GetStatus() { }
    }

    /// <summary>
    /// Sender: the host on SIGTERM / Ctrl+C. Every shard stops accepting, open connections get until
    /// <paramref name="Timeout"/> to finish, the rest are aborted. Reply: <see cref="Drained"/> when every listener
    /// is gone. Any later command that would bind is refused.
    /// </summary>
    public sealed record Drain(TimeSpan Timeout) : ICommand;

    /// <summary>Reply to <see cref="Drain"/>: no listener accepts and no connection is open any more.</summary>
    public sealed class Drained
    {
        /// <summary>The one instance (the message carries no data).</summary>
        public static readonly Drained Instance = new();
        private Drained() { }
    }

    /// <summary>The node as the coordinator sees it.</summary>
    /// <param name="ProcessId">The node's process id.</param>
    /// <param name="StartedAt">When the coordinator started.</param>
    /// <param name="Draining">The node is shutting down: no listener accepts, open connections finish.</param>
    /// <param name="Listeners">Every listener with its shards.</param>
    /// <param name="ProcessGeneration">1 for a node that bound its sockets itself; one more than its predecessor's after an upgrade.</param>
    /// <param name="Upgrade">The upgrade in progress, if any.</param>
    /// <param name="LastUpgradeFailure">Why the last upgrade was refused or rolled back, if it was.</param>
    /// <param name="LetGo">The node passed its sockets to a successor and only drains.</param>
    /// <param name="Transport">How other processes reach the node's actors: none (a lone node), mutual TLS, or INSECURE plain TCP.</param>
    /// <param name="InsecureTransport">The cluster runs over plain TCP with no authentication (<c>insecure-transport = on</c>).</param>
    public sealed record NodeStatus(
        int ProcessId,
        DateTimeOffset StartedAt,
        bool Draining,
        IReadOnlyList<ListenerStatus> Listeners,
        int ProcessGeneration = 1,
        UpgradeStatus? Upgrade = null,
        string? LastUpgradeFailure = null,
        bool LetGo = false,
        string? Transport = null,
        bool InsecureTransport = false);

    /// <summary>An upgrade in progress: the successor's pid once known, what it waits for, and since when.</summary>
    public sealed record UpgradeStatus(int? SuccessorProcessId, string Phase, DateTimeOffset Since);

    /// <summary>
    /// One listener: desired shard count, actual shards, counters summed over its shards, and its handler generations
    /// (the current one first, then older ones whose connections still run). <c>Style</c>: how its current handler runs
    /// (<c>span</c> on the I/O loops, <c>span/stream</c> on the stream path, <c>async</c>, <c>datagram</c>);
    /// <c>HandlerFailures</c>: stream connections whose handler threw. <c>Tls</c>: a TLS listener's certificate
    /// and handshake counters (null without TLS). <c>ConfiguredShards</c>: the count the node's configuration (its file,
    /// or the code's settings) gives the listener, when a runtime scale overrides it (null when they agree).
    /// </summary>
    public sealed record ListenerStatus(
        string Name,
        string EndPoint,
        string Protocol,
        string Handler,
        int DesiredShards,
        int MaxConnections,
        long Accepted,
        int OpenConnections,
        int Generation,
        IReadOnlyList<GenerationStatus> Generations,
        string? LastReloadFailure,
        IReadOnlyList<ShardStatus> Shards,
        DatagramStatus? Datagrams = null,
        string? Style = null,
        long HandlerFailures = 0,
        TlsStatus? Tls = null,
        int? ConfiguredShards = null);


    /// <summary>A TLS listener's material as new handshakes get it, and its handshakes since it started.</summary>
    /// <param name="Certificate">The certificate file.</param>
    /// <param name="Subject">The certificate's subject.</param>
    /// <param name="NotAfter">When the certificate expires (UTC).</param>
    /// <param name="LoadedAt">When the files were last read (start or reload, UTC).</param>
    /// <param name="Handshakes">Handshakes by outcome (failures by class, timeouts among them).</param>
    public sealed record TlsStatus(string Certificate, string Subject, DateTime NotAfter, DateTime LoadedAt, Runtime.Tls.TlsHandshakeCounts Handshakes);

    /// <summary>
    /// The datagram counters of a UDP listener or shard (instead of connections): received (truncated ones included),
    /// sent (taken by the kernel), and dropped: truncated (longer than max-datagram-size), refused (the kernel refused
    /// the send, or no room), and handler failures (the handler threw or could not be made: its replies discarded).
    /// </summary>
    public sealed record DatagramStatus(long Received, long Sent, long DroppedTruncated, long DroppedRefused, long HandlerFailures)
    {
        /// <summary>Every datagram dropped, whatever the reason.</summary>
        public long Dropped => DroppedTruncated + DroppedRefused + HandlerFailures;

        /// <summary>The sum of <paramref name="parts"/>.</summary>
        public static DatagramStatus Sum(IEnumerable<DatagramStatus> parts) =>
            parts.Aggregate(new DatagramStatus(0, 0, 0, 0, 0), (a, b) => new DatagramStatus(
                a.Received + b.Received, a.Sent + b.Sent, a.DroppedTruncated + b.DroppedTruncated, a.DroppedRefused + b.DroppedRefused, a.HandlerFailures + b.HandlerFailures));
    }

    /// <summary>
    /// One live handler generation of a listener: <paramref name="Assembly"/> and <paramref name="Sha256"/> for a handler
    /// loaded from an assembly file; <paramref name="Source"/> where its code came from (the file; the factory's type and
    /// assembly name for a factory registered by code, e.g. <c>MyApp.UppercaseFactory (MyApp)</c>; or <c>built-in</c>).
    /// </summary>
    public sealed record GenerationStatus(int Generation, string Handler, bool Current, int OpenConnections, string? Assembly, string? Sha256, string? Source = null);

    /// <summary>One shard: its listening socket (kernel inode), state and counters.</summary>
    public sealed record ShardStatus(
        int ShardId,
        string State,
        long SocketInode,
        long Accepted,
        int OpenConnections,
        long BytesReceived,
        long BytesSent,
        DatagramStatus? Datagrams = null)
    {
        /// <summary>It serves: accepting (tcp) or receiving (udp), neither retiring nor standing by.</summary>
        public bool IsServing => State is "accepting" or "receiving";
    }

    internal static string Describe(IPEndPoint endPoint, TransportProtocol protocol) =>
        $"{endPoint}/{protocol.ToString().ToLowerInvariant()}";
}
