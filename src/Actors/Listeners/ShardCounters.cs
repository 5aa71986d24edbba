namespace ShardRuntime.Actors.Listeners;

/// <summary>
/// Counters of one shard, written by the shard and its connections and read by the coordinator for
/// <c>status</c> without asking the shard. Survives a restart of the shard actor.
/// </summary>
internal sealed class ShardCounters
{
    private long _accepted;
    private int _open;
    private long _bytesReceived;
    private long _bytesSent;

    public long Accepted => Volatile.Read(ref _accepted);
    public int Open => Volatile.Read(ref _open);
    public long BytesReceived => Volatile.Read(ref _bytesReceived);
    public long BytesSent => Volatile.Read(ref _bytesSent);

    public void ConnectionOpened()
    {
        Interlocked.Increment(ref _accepted);
        Interlocked.Increment(ref _open);
    }

    public void ConnectionClosed() => Interlocked.Decrement(ref _open);

    public void Received(int bytes) => Interlocked.Add(ref _bytesReceived, bytes);

    public void Sent(int bytes) => Interlocked.Add(ref _bytesSent, bytes);
}
