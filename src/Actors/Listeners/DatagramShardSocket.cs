using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Sockets;
using ShardRuntime.Runtime.Sockets.Readiness;
using ShardRuntime.Runtime.Sockets.Udp;

namespace ShardRuntime.Actors.Listeners;

/// <summary>
/// One datagram (UDP) socket of a reuseport group, owned by the group's actor (which alone closes it), with everything
/// about its shard that must outlive the shard actor: its phase, its two <see cref="DatagramBatch"/>es (received, to
/// send; native memory allocated once) and its handler (<see cref="DatagramServing"/>). A crash and restart of the
/// shard actor closes nothing and loses no queued reply. Receiving and sending run under a gate the close takes too, so
/// the descriptor is never closed (and reused) while a recvmmsg or sendmmsg is on it.
/// </summary>
internal sealed class DatagramShardSocket : IShardSocket, IReadinessListener
{
    private readonly object _gate = new();
    private readonly int _fd;
    private readonly ReadinessRegistration _readiness;
    private readonly DatagramBatch _received;
    private readonly DatagramBatch _outbound;
    private int _disposed;
    private int _phase;
    private long _lastReceivedAt;

    public DatagramShardSocket(Socket socket, int shardId, ReadinessEngine loop, string? dispatcher, ListenerSettings settings)
    {
        if (socket.SocketType != SocketType.Dgram)
            throw new InvalidOperationException($"socket on {socket.LocalEndPoint} is not a datagram socket; a udp listener's group takes datagram sockets only");
        Socket = socket;
        ShardId = shardId;
        Dispatcher = dispatcher;
        EndPoint = (IPEndPoint)socket.LocalEndPoint!;
        Inode = KernelSocketTable.GetInode(socket);
        _fd = (int)socket.SafeHandle.DangerousGetHandle();
        SocketOptionsNative.SetNonBlocking(socket);
        // SO_RCVBUF, capped at net.core.rmem_max; past it with SO_RCVBUFFORCE when the process may (CAP_NET_ADMIN).
        RequestedReceiveBuffer = settings.DatagramReceiveBuffer;
        ReceiveBuffer = SocketOptionsNative.SetReceiveBuffer(socket, settings.DatagramReceiveBuffer);
        _received = new DatagramBatch(settings.DatagramsPerBatch, settings.MaxDatagramSize);
        _outbound = new DatagramBatch(settings.DatagramsPerBatch, settings.MaxDatagramSize);
        _readiness = loop.Register(_fd, this);
    }

    public Socket Socket { get; }

    /// <summary>The receive buffer asked for (datagram-receive-buffer).</summary>
    public int RequestedReceiveBuffer { get; }

    /// <summary>The receive buffer the kernel granted (less than asked when net.core.rmem_max caps it).</summary>
    public int ReceiveBuffer { get; }

    public int ShardId { get; }

    public IPEndPoint EndPoint { get; }

    public long Inode { get; }

    public string? Dispatcher { get; }

    public bool Shared { get; set; }

    public bool IsDisposed => Volatile.Read(ref _disposed) == 1;

    /// <summary>The shard actor told of readiness.</summary>
    public IActorRef? Owner { get; set; }

    /// <summary>The handler and its generation, kept across restarts of the shard actor; null until the first start.</summary>
    public DatagramServing? Serving { get; set; }

    /// <summary>Where the shard is in its life (<see cref="ShardPhase.Accepting"/>: receiving). Only the shard actor changes it.</summary>
    public ShardPhase Phase
    {
        get => (ShardPhase)Volatile.Read(ref _phase);
        set => Interlocked.Exchange(ref _phase, (int)value);
    }

    public long LastTakenAt => Volatile.Read(ref _lastReceivedAt);

    public long DrainedFromQueue { get; private set; }

    /// <summary>The batch replies are queued into (only during a turn, or from the shard actor).</summary>
    internal DatagramBatch Outbound => _outbound;

    void IReadinessListener.OnReadable(object? state) => Owner?.Tell(DatagramShard.Readable.Instance);

    void IReadinessListener.OnWritable(object? state) => Owner?.Tell(DatagramShard.Writable.Instance);

    /// <summary>
    /// One wake-up: up to <paramref name="maxBatches"/> batches received and served by <paramref name="serving"/>, then
    /// the replies flushed. Returns how it ended; null when the socket is closed (nothing was done).
    /// </summary>
    public ReceiveTurnEnd? ReceiveTurn(DatagramServing serving, int maxBatches)
    {
        lock (_gate)
        {
            if (IsDisposed) return null;
            serving.SwitchIfReloaded();
            ReceiveTurnEnd end;
            try
            {
                end = _received.ReceiveTurn(_readiness, _fd, maxBatches, static (batch, state) => ((DatagramServing)state!).Serve(batch), serving);
            }
            finally
            {
                // What was received was served; replies go out even when a receive failed after them.
                FlushLocked(serving.Counters);
            }
            return end;
        }
    }

    /// <summary>Hands a message to the handler (<see cref="DatagramServing.Deliver"/>) and sends what it queued.</summary>
    public void Deliver(DatagramServing serving, object message)
    {
        lock (_gate)
        {
            if (IsDisposed) return;
            serving.Deliver(message);
            FlushLocked(serving.Counters);
        }
    }

    /// <summary>Records datagrams taken from the queue (for the group's drain of a retiring socket).</summary>
    internal void Took(int datagrams)
    {
        Volatile.Write(ref _lastReceivedAt, Environment.TickCount64);
        if (Phase >= ShardPhase.Retiring) DrainedFromQueue += datagrams;
    }

    /// <summary>Sends what is queued; when the kernel's buffer is full, arms for write (the shard flushes again on <see cref="DatagramShard.Writable"/>).</summary>
    public void Flush(ShardCounters counters)
    {
        lock (_gate)
        {
            if (!IsDisposed) FlushLocked(counters);
        }
    }

    private void FlushLocked(ShardCounters counters)
    {
        while (_outbound.Count > 0)
        {
            var seen = _readiness.WriteEdges;
            var rejected = _outbound.Rejected;
            counters.DatagramsSentBy(_outbound.SendTo(_fd));
            if (_outbound.Rejected != rejected) counters.Refused(_outbound.Rejected - rejected);
            if (_outbound.Count == 0 || _readiness.ArmWrite(seen)) return;
        }
    }

    /// <summary>Queues <paramref name="payload"/> for <paramref name="peer"/>; with the batch full, flushes first. False when there is no room (dropped).</summary>
    internal bool Queue(ReadOnlySpan<byte> payload, in DatagramPeer peer, ShardCounters counters)
    {
        if (payload.Length > _outbound.MaxDatagramSize)
            throw new ArgumentException($"a datagram of {payload.Length} bytes is longer than max-datagram-size ({_outbound.MaxDatagramSize} bytes)", nameof(payload));
        if (_outbound.IsFull) FlushLocked(counters);
        return _outbound.TryAdd(payload, peer);
    }

    public int Queued()
    {
        try
        {
            return IsDisposed || DatagramDrain.ReceiveQueueEmpty(Socket) ? 0 : 1;
        }
        catch (Exception e) when (e is SocketException or InvalidOperationException or ObjectDisposedException or DatagramIoException)
        {
            return 0;
        }
    }

    public Props ShardProps(ShardListener listener, ShardCounters counters) => DatagramShard.Props(listener, this, counters);

    /// <summary>Closes this process's descriptor (never during a turn), after leaving the readiness engine, and frees the batches. Idempotent.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
            _readiness.Dispose();
            ShardSocket.CloseDescriptor(Socket, Shared);
            _received.Dispose();
            _outbound.Dispose();
        }
        // A shard waiting for readiness has nothing to wait for any more.
        Owner?.Tell(DatagramShard.Readable.Instance);
    }

    /// <summary>Closes the socket and stops its handler (the node lets go of the shard for good; its actor is gone).</summary>
    public void DisposeAll()
    {
        Dispose();
        Serving?.Stop();
    }
}
