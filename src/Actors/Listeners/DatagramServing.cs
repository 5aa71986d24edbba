using System.Net;
using System.Net.Sockets;
using Akka.Event;
using ShardRuntime.Runtime.Datagrams;
using ShardRuntime.Runtime.Loading;
using ShardRuntime.Runtime.Sockets.Udp;

namespace ShardRuntime.Actors.Listeners;

/// <summary>
/// The handler of one datagram socket and what it sees (its <see cref="IDatagramContext"/>): one handler of one
/// generation at a time, called once per datagram with the peer in one <see cref="SocketAddress"/> reused for every
/// datagram (no allocation per datagram). A reload switches generations between two datagrams
/// (<see cref="SwitchIfReloaded"/>): the old handler gets <see cref="IDatagramHandler.OnStopped"/>, its lease is
/// released, the new generation's handler serves from the next datagram on. An exception of the handler is contained to
/// its datagram: counted, logged (at most once a second, with how many were not logged), its queued sends discarded.
/// Lives with the socket (<see cref="DatagramShardSocket.Serving"/>), so a restart of the shard actor keeps the handler.
/// </summary>
internal sealed class DatagramServing : IDatagramContext
{
    private static readonly long LogEvery = TimeSpan.FromSeconds(1).Ticks / TimeSpan.TicksPerMillisecond;

    private readonly DatagramShardSocket _socket;
    private readonly HandlerRegistry _registry;
    private readonly SocketAddress _peerAddress;
    private HandlerLease? _lease;
    private IDatagramHandler? _handler;
    private DatagramPeer _peer;
    private bool _inDatagram;
    private bool _stopping;
    private long _lastFailureLog = long.MinValue;
    private int _failuresNotLogged;

    public DatagramServing(string listenerName, DatagramShardSocket socket, HandlerRegistry registry, ShardCounters counters)
    {
        ListenerName = listenerName;
        _socket = socket;
        _registry = registry;
        Counters = counters;
        _peerAddress = new SocketAddress(socket.EndPoint.AddressFamily);
    }

    /// <summary>Where handler failures are logged (the current shard actor's log).</summary>
    public ILoggingAdapter? Log { get; set; }

    public ShardCounters Counters { get; }

    public string ListenerName { get; }

    public int ShardId => _socket.ShardId;

    public int HandlerGeneration => _lease?.Generation.Number ?? 0;

    public EndPoint? LocalEndPoint => _socket.EndPoint;

    /// <summary>Whether the handler was stopped for good.</summary>
    public bool Stopped { get; private set; }

    /// <summary>
    /// Creates the handler of the current generation (the first start, after a switch, or again after its factory threw:
    /// until then every datagram is dropped as a handler failure). Returns whether there is a handler.
    /// </summary>
    public bool Start()
    {
        if (_handler is not null) return true;
        if (Stopped) return false;
        var lease = _registry.Acquire();
        try
        {
            _handler = lease.CreateDatagramHandler(this);
            _lease = lease;
            return true;
        }
        catch (Exception e)
        {
            lease.Dispose();
            Failed(e, "Create");
            return false;
        }
    }

    /// <summary>Between two datagrams: serves with the registry's current generation from now on, if a reload made a new one. Returns whether it switched.</summary>
    public bool SwitchIfReloaded()
    {
        if (Stopped) return false;
        if (_lease is null || ReferenceEquals(_lease.Generation, _registry.Current))
        {
            Start(); // a handler whose factory threw is tried again, once per turn
            return false;
        }
        StopHandler();
        Start();
        return true;
    }

    /// <summary>The socket stops calling the handler: OnStopped once, the lease released. Idempotent.</summary>
    public void Stop()
    {
        if (Stopped) return;
        StopHandler();
        Stopped = true;
    }

    private void StopHandler()
    {
        var handler = _handler;
        var lease = _lease;
        _handler = null;
        _stopping = true;
        try
        {
            handler?.OnStopped(this);
        }
        catch (Exception e)
        {
            Failed(e, "OnStopped");
        }
        finally
        {
            _stopping = false;
            _lease = null;
            lease?.Dispose();
        }
    }

    /// <summary>Serves every datagram of <paramref name="batch"/> (called by the receive turn, under the socket's gate).</summary>
    public void Serve(DatagramBatch batch)
    {
        var handler = _handler;
        _socket.Took(batch.Count);
        for (var i = 0; i < batch.Count; i++)
        {
            var payload = batch.Payload(i);
            Counters.DatagramReceived(payload.Length);
            if (batch.IsTruncated(i))
            {
                Counters.Truncated();
                continue;
            }
            if (handler is null)
            {
                Counters.HandlerFailed(); // no handler (its factory threw, or it stopped): the datagram is dropped
                continue;
            }
            _peer = batch.Peer(i);
            _peer.WriteTo(_peerAddress);
            var queued = _socket.Outbound.Count;
            _inDatagram = true;
            try
            {
                handler.OnDatagram(this, payload, _peerAddress);
            }
            catch (Exception e)
            {
                Counters.HandlerFailed();
                _socket.Outbound.TrimTo(queued);
                Failed(e, "OnDatagram");
            }
            finally
            {
                _inDatagram = false;
            }
        }
    }

    /// <summary>A message from another actor for the handler (the shard actor calls it under the socket's gate).</summary>
    public void Deliver(object message)
    {
        if (_handler is not { } handler) return;
        var queued = _socket.Outbound.Count;
        try
        {
            handler.OnMessage(this, message);
        }
        catch (Exception e)
        {
            Counters.HandlerFailed();
            _socket.Outbound.TrimTo(queued);
            Failed(e, "OnMessage");
        }
    }

    public void Reply(ReadOnlySpan<byte> datagram)
    {
        if (!_inDatagram)
            throw new InvalidOperationException("Reply needs the datagram being handled (its peer): use SendTo outside OnDatagram");
        Queue(datagram, _peer);
    }

    public void SendTo(SocketAddress peer, ReadOnlySpan<byte> datagram)
    {
        if (Stopped || _stopping) throw new InvalidOperationException("the handler is stopped: no more sends");
        Queue(datagram, DatagramPeer.FromSocketAddress(peer));
    }

    private void Queue(ReadOnlySpan<byte> datagram, in DatagramPeer peer)
    {
        if (_socket.Queue(datagram, peer, Counters)) Counters.Sent(datagram.Length);
        else Counters.Refused(1);
    }

    /// <summary>The shard's actor and system, for handlers that talk to other actors (set by the shard before the handler is made).</summary>
    public IDatagramActorFeature? ActorFeature { get; set; }

    public T? GetFeature<T>() where T : class => ActorFeature as T;

    private void Failed(Exception e, string call)
    {
        var now = Environment.TickCount64;
        if (_lastFailureLog != long.MinValue && now - _lastFailureLog < LogEvery)
        {
            _failuresNotLogged++;
            return;
        }
        Log?.Warning(e, "Listener {Listener} shard {Shard}: the datagram handler's {Call} threw ({Type}: {Error}); its datagram's replies are discarded ({NotLogged} more failures not logged since the last)",
            ListenerName, ShardId, call, e.GetType().Name, e.Message, _failuresNotLogged);
        _lastFailureLog = now;
        _failuresNotLogged = 0;
    }
}
