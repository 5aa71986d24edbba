namespace ShardRuntime.Actors.Listeners;

/// <summary>
/// Counters of one shard, written by the shard and its connections and read by the coordinator for
/// <c>status</c> without asking the shard. Survives a restart of the shard actor. A UDP shard counts datagrams
/// instead of connections.
/// </summary>
internal sealed class ShardCounters
{
    private long _accepted;
    private int _open;
    private long _bytesReceived;
    private long _bytesSent;
    private long _datagramsReceived;
    private long _datagramsSent;
    private long _truncated;
    private long _refused;
    private long _handlerFailures;

    public long Accepted => Volatile.Read(ref _accepted);
    public int Open => Volatile.Read(ref _open);
    public long BytesReceived => Volatile.Read(ref _bytesReceived);
    public long BytesSent => Volatile.Read(ref _bytesSent);

    /// <summary>Datagrams received (truncated ones included).</summary>
    public long DatagramsReceived => Volatile.Read(ref _datagramsReceived);

    /// <summary>Datagrams the kernel took for sending.</summary>
    public long DatagramsSent => Volatile.Read(ref _datagramsSent);

    /// <summary>Datagrams received longer than max-datagram-size: dropped, the handler never saw them.</summary>
    public long DroppedTruncated => Volatile.Read(ref _truncated);

    /// <summary>Datagrams to send that the kernel refused (a bad destination) or that found no room (send buffer and batch full).</summary>
    public long DroppedRefused => Volatile.Read(ref _refused);

    /// <summary>Datagrams whose handler call threw: their queued sends were discarded.</summary>
    public long HandlerFailures => Volatile.Read(ref _handlerFailures);

    public void ConnectionOpened()
    {
        Interlocked.Increment(ref _accepted);
        Interlocked.Increment(ref _open);
    }

    public void ConnectionClosed() => Interlocked.Decrement(ref _open);

    public void Received(int bytes) => Interlocked.Add(ref _bytesReceived, bytes);

    public void Sent(int bytes) => Interlocked.Add(ref _bytesSent, bytes);

    public void DatagramReceived(int bytes)
    {
        Interlocked.Increment(ref _datagramsReceived);
        Interlocked.Add(ref _bytesReceived, bytes);
    }

    public void DatagramsSentBy(int count) => Interlocked.Add(ref _datagramsSent, count);

    public void Truncated() => Interlocked.Increment(ref _truncated);

    public void Refused(long count) => Interlocked.Add(ref _refused, count);

    public void HandlerFailed() => Interlocked.Increment(ref _handlerFailures);
}
