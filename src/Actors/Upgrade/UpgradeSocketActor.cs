using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using Akka.Hosting;
using ShardRuntime.Actors.ControlSocket;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Sockets;
using ShardRuntime.Runtime.Upgrade;

namespace ShardRuntime.Actors.Upgrade;

/// <summary>
/// The upgrade socket, served for the predecessor actor (its parent) with the behaviour the control socket shares
/// (<see cref="UnixSocketServerActor{TWaitUntilBound,TClaim}"/>: Binding -> Serving or Failed, the file watched and
/// bound again). It alone owns the listening Unix socket. A peer of another uid is refused and logged before anything
/// else; a peer that says nothing within the step timeout is dropped; one that speaks goes to the parent
/// (<see cref="PeerArrived"/>), which owns it from then on. The parent hears whether the socket is served
/// (<see cref="Served"/>, <see cref="NotServed"/>). Registered in the ActorRegistry under <see cref="Predecessor.Marker"/>:
/// a successor claims the path through it, tests wait for it to be bound.
/// </summary>
internal sealed class UpgradeSocketActor : UnixSocketServerActor<Predecessor.WaitUntilBound, Predecessor.Claim>
{
    private readonly UpgradeSettings _settings;
    private readonly bool _deferred;

    public UpgradeSocketActor(UpgradeSettings settings, bool deferred)
        : base(new UnixSocketServerSettings("Upgrade", settings.SocketPath, settings.StepTimeout, settings.CheckInterval, deferred))
    {
        _settings = settings;
        _deferred = deferred;
    }

    public static Props Props(UpgradeSettings settings, bool deferred) =>
        Akka.Actor.Props.Create(() => new UpgradeSocketActor(settings, deferred));

    protected override object BoundReply(string socketPath) => new Predecessor.Bound(socketPath);

    protected override object BindFailedReply(string socketPath, string reason) => new Predecessor.BindFailed(socketPath, reason);

    protected override void OnBound(string socketPath)
    {
        Log.Info("Upgrade socket listening on {SocketPath}: a successor (`run --upgrade-from`) receives the listening sockets here", socketPath);
        Context.Parent.Tell(new Served(socketPath));
    }

    protected override void OnBindFailed(string reason) => Context.Parent.Tell(new NotServed(reason));

    protected override void ReceiveOwn() => Receive<PeerSpoke>(OnPeerSpoke);

    protected override void PreStart()
    {
        base.PreStart();
        ActorRegistry.For(Context.System).Register<Predecessor.Marker>(Self, overwrite: true);
        if (_deferred)
            Log.Info("Upgrade socket {SocketPath} is claimed once the predecessor let go of the listening sockets", _settings.SocketPath);
    }

    protected override void OnPeer(Socket peer)
    {
        PeerCredentials credentials;
        try
        {
            credentials = PeerCredentials.Of(peer);
        }
        catch (Exception e) when (e is SocketException or InvalidOperationException)
        {
            Log.Warning("Upgrade peer refused: its credentials could not be read: {Error}", e.Message);
            Refuse(peer, "permission denied: the peer's credentials could not be read", _settings.StepTimeout);
            return;
        }
        if (UpgradePeer.Refusal(credentials, ProcessIdentity.EffectiveUserId) is { } refusal)
        {
            Log.Warning("Upgrade peer pid {Peer} refused: it runs as uid {PeerUid}, the node as uid {NodeUid}; no socket was passed",
                credentials.ProcessId, credentials.UserId, ProcessIdentity.EffectiveUserId);
            Refuse(peer, refusal, _settings.StepTimeout);
            return;
        }
        var pid = credentials.ProcessId;
        UpgradePeer.SpeaksAsync(peer, _settings.StepTimeout)
            .PipeTo(Self, success: spoke => new PeerSpoke(peer, pid, spoke), failure: _ => new PeerSpoke(peer, pid, false));
    }

    private void OnPeerSpoke(PeerSpoke m)
    {
        if (m.Spoke)
        {
            Context.Parent.Tell(new PeerArrived(m.Peer, m.ProcessId));
            return;
        }
        m.Peer.Dispose();
        Log.Info("Upgrade peer pid {Peer} said nothing in time or left; nothing was passed", m.ProcessId);
        Context.Parent.Tell(new PeerSilent(m.ProcessId));
    }

    /// <summary>Tells <paramref name="peer"/> why it gets no socket, then closes it.</summary>
    public static void Refuse(Socket peer, string reason, TimeSpan timeout) =>
        _ = UpgradeServer.RefuseAsync(peer, reason, timeout);

    private sealed record PeerSpoke(Socket Peer, int ProcessId, bool Spoke);

    /// <summary>Sender: the upgrade socket actor. Receiver: its parent. The socket is served at <paramref name="SocketPath"/> (first bind, or bound again). No reply.</summary>
    public sealed record Served(string SocketPath);

    /// <summary>Sender: the upgrade socket actor. Receiver: its parent. The socket could not be bound (<paramref name="Reason"/>): upgrades are refused. No reply.</summary>
    public sealed record NotServed(string Reason);

    /// <summary>Sender: the upgrade socket actor. Receiver: its parent, which owns <paramref name="Peer"/> from now on. A peer of this uid, pid <paramref name="ProcessId"/>, spoke. No reply.</summary>
    public sealed record PeerArrived(Socket Peer, int ProcessId);

    /// <summary>Sender: the upgrade socket actor. Receiver: its parent. Peer <paramref name="ProcessId"/> connected but said nothing in time (it was closed). No reply.</summary>
    public sealed record PeerSilent(int ProcessId);
}
