using Akka.Actor;
using Akka.Event;
using ShardRuntime.Runtime.Sockets.Udp;

namespace ShardRuntime.Actors.Listeners;

/// <summary>
/// Owns the serving of one datagram socket of a UDP listener: on each readiness wake-up it runs a receive turn
/// (<see cref="DatagramShardSocket.ReceiveTurn"/>: at most <see cref="MaxBatchesPerTurn"/> recvmmsg batches, every
/// datagram handed to the handler, the replies flushed with sendmmsg), then yields to its mailbox. Its states
/// (<see cref="ShardPhase"/>, each a behaviour): receiving (<see cref="ShardPhase.Accepting"/>), parked (a successor
/// receives on the same socket), retiring (receives until its group closes the socket, which it does once the receive
/// queue stayed empty), closing (the handler is stopped, then the actor). The shard never closes its socket: its group
/// does and tells it <see cref="Listener.SocketClosed"/>. Its lasting state lives in the socket object, so a crash of this
/// actor loses nothing: the restart goes on in the same phase with the same handler.
/// </summary>
internal sealed class DatagramShardActor : UntypedActor
{
    /// <summary>Batches of one turn before the shard lets its mailbox (and the loop's other sockets) in.</summary>
    internal const int MaxBatchesPerTurn = 4;

    private readonly ShardListener _listener;
    private readonly DatagramShardSocket _socket;
    private readonly ShardCounters _counters;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public DatagramShardActor(ShardListener listener, DatagramShardSocket socket, ShardCounters counters)
    {
        _listener = listener;
        _socket = socket;
        _counters = counters;
    }

    private string Name => _listener.Settings.Name;

    private DatagramServing Serving => _socket.Serving!;

    protected override void PreStart()
    {
        _socket.Owner = Self;
        _socket.Serving ??= new DatagramServing(Name, _socket, _listener.Handlers, _counters);
        Serving.Log = _log;
        Serving.ActorFeature = new DatagramActorFeature(Self, Context.System);
        Serving.Start();
        Become(Behaviour(_socket.Phase));
        _log.Info("Shard {Listener}/{Shard} {Phase} datagrams on {EndPoint}/udp (socket inode {Inode}, handler generation {Generation})",
            Name, _socket.ShardId, _socket.Phase == ShardPhase.Parked ? "parked, not receiving" : "receiving", _socket.EndPoint, _socket.Inode, Serving.HandlerGeneration);
        if (_socket.ReceiveBuffer < _socket.RequestedReceiveBuffer)
            _log.Warning("Shard {Listener}/{Shard}: the kernel granted a receive buffer of {Granted} bytes, not the {Requested} of datagram-receive-buffer " +
                         "(net.core.rmem_max caps it, and without CAP_NET_ADMIN the process may not exceed it; raise it with sysctl): datagrams beyond it are dropped while the shard does not read",
                Name, _socket.ShardId, _socket.ReceiveBuffer, _socket.RequestedReceiveBuffer);
        if (_socket.IsDisposed || _socket.Phase == ShardPhase.Closing) Finish();
        else Self.Tell(DatagramShard.ReceiveMore.Instance); // whatever came while nobody owned the socket
    }

    protected override void PreRestart(Exception reason, object message)
    {
        // Deliberately not base.PreRestart: the socket, its batches and the handler stay.
        _log.Warning("Shard {Listener}/{Shard} crashed on {Message}: {Error}; restarting on the same socket with the same handler",
            Name, _socket.ShardId, message?.GetType().Name ?? "start-up", reason.Message);
    }

    protected override void PostRestart(Exception reason) => PreStart();

    protected override void PostStop() => _socket.Owner = null;

    protected override void OnReceive(object message) => Behaviour(_socket.Phase)(message);

    private UntypedReceive Behaviour(ShardPhase phase) => phase switch
    {
        ShardPhase.Accepting => Receiving,
        ShardPhase.Parked => Parked,
        ShardPhase.Retiring => Retiring,
        _ => Closing,
    };

    private void Enter(ShardPhase phase)
    {
        _socket.Phase = phase;
        Become(Behaviour(phase));
    }

    /// <summary>Receiving: datagrams are received and served.</summary>
    private void Receiving(object message)
    {
        if (message is Listener.Park)
        {
            Enter(ShardPhase.Parked);
            _log.Info("Shard {Listener}/{Shard} parked: the successor receives on socket inode {Inode}; this copy stays open, not receiving",
                Name, _socket.ShardId, _socket.Inode);
            return;
        }
        Common(message);
    }

    /// <summary>Parked: the socket stays open without receiving (its queue is the successor's to read).</summary>
    private void Parked(object message)
    {
        switch (message)
        {
            case Listener.Resume:
                Enter(ShardPhase.Accepting);
                _log.Info("Shard {Listener}/{Shard} receiving again on socket inode {Inode}", Name, _socket.ShardId, _socket.Inode);
                Self.Tell(DatagramShard.ReceiveMore.Instance);
                break;
            case DatagramShard.Readable or DatagramShard.ReceiveMore:
                break; // not receiving (a resume receives what queued meanwhile)
            default:
                Common(message);
                break;
        }
    }

    /// <summary>Retiring: receives what still comes (steered away from, its queue drains) until the group closes the socket.</summary>
    private void Retiring(object message)
    {
        if (message is Listener.SocketClosed)
        {
            Finish();
            return;
        }
        Common(message);
    }

    /// <summary>Closing: the handler is stopped; nothing is left to do.</summary>
    private void Closing(object message)
    {
    }

    private void Common(object message)
    {
        switch (message)
        {
            case DatagramShard.Readable or DatagramShard.ReceiveMore:
                Turn();
                break;
            case DatagramShard.Writable:
                _socket.Flush(_counters);
                break;
            case Listener.Retire retire:
                Enter(ShardPhase.Retiring);
                _log.Info("Shard {Listener}/{Shard} retiring ({Mode}) on socket inode {Inode}: it receives until its group closes the socket",
                    Name, _socket.ShardId, retire.Mode, _socket.Inode);
                Self.Tell(DatagramShard.ReceiveMore.Instance);
                break;
            case Listener.GenerationChanged:
                Turn(); // switches between two datagrams, then serves what waits with the new generation
                break;
            case Listener.SocketClosed:
                Finish();
                break;
            case Listener.Park or Listener.Resume or Listener.DrainDeadline:
                break; // not for this phase
            default:
                _socket.Deliver(Serving, message);
                break;
        }
    }

    private void Turn()
    {
        if (_socket.ReceiveTurn(Serving, MaxBatchesPerTurn) == ReceiveTurnEnd.BudgetSpent)
            Self.Tell(DatagramShard.ReceiveMore.Instance);
    }

    /// <summary>The socket is closed (or the shard is done): the handler stops once, then the shard.</summary>
    private void Finish()
    {
        Enter(ShardPhase.Closing);
        Serving.Stop();
        _log.Info("Shard {Listener}/{Shard} retired: {Received} datagrams received, {Sent} sent", Name, _socket.ShardId, _counters.DatagramsReceived, _counters.DatagramsSent);
        Context.Stop(Self);
    }
}
