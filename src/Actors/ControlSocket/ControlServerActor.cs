using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Sockets;

namespace ShardRuntime.Actors.ControlSocket;

/// <summary>
/// Owns the control socket (<see cref="UnixSocketServerActor{TWaitUntilBound,TClaim}"/>: Binding -> Serving or Failed,
/// the socket file watched and bound again, claimed by a successor). Each client gets a
/// <see cref="ControlConnectionActor"/>; a client's failure stops that client's actor only. A control socket closed under
/// the server stops the server: nothing would be accepted any more.
/// </summary>
internal sealed class ControlServerActor : UnixSocketServerActor<Control.WaitUntilBound, Control.Claim>
{
    private readonly ControlSettings _settings;
    private readonly IActorRef _coordinator;
    private readonly IActorRef? _cluster;
    private readonly uint _nodeUserId = ProcessIdentity.EffectiveUserId;
    private long _clients;

    public ControlServerActor(ControlSettings settings, IActorRef coordinator, IActorRef? cluster, bool deferBind)
        : base(new UnixSocketServerSettings("Control", settings.SocketPath, settings.RequestTimeout, settings.CheckInterval, deferBind))
    {
        _settings = settings;
        _coordinator = coordinator;
        _cluster = cluster;
    }

    protected override SupervisorStrategy SupervisorStrategy() =>
        // A client's actor owns that client's socket: stop it, never restart it.
        new OneForOneStrategy(_ => Directive.Stop);

    protected override object BoundReply(string socketPath) => new Control.Bound(socketPath);

    protected override object BindFailedReply(string socketPath, string reason) => new Control.BindFailed(socketPath, reason);

    protected override void ReceiveOwn()
    {
        // The control server has no messages of its own: its clients' actors talk to the coordinator.
    }

    protected override void OnListenerGone() => Context.Stop(Self);

    protected override void OnPeer(Socket peer)
    {
        var name = $"client-{++_clients}";
        try
        {
            Context.ActorOf(
                Akka.Actor.Props.Create(() => new ControlConnectionActor(peer, _settings, _coordinator, _cluster, _nodeUserId)),
                name);
        }
        catch (Exception e)
        {
            Log.Error(e, "Control socket could not start {Name}", name);
            peer.Dispose();
        }
    }
}
