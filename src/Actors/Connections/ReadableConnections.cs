using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Akka.Actor;

namespace ShardRuntime.Actors.Connections;

/// <summary>
/// The connections waiting in one shard (no actor yet) whose sockets became readable: their first bytes came, or the
/// FIN their close waits for. The readiness engine's thread queues each (<see cref="ConnectionReadiness"/>) and tells the
/// shard <see cref="Listeners.Listener.ConnectionsReadable"/>; the shard takes all that are queued, in order. One queue
/// per shard, kept with its socket (a restarted shard actor finds what was queued for the one before), so that a
/// wake-up allocates nothing: no message object per connection.
/// </summary>
internal sealed class ReadableConnections
{
    private readonly ConcurrentQueue<ConnectionState> _queue = new();

    /// <summary>The readiness engine's thread: queues <paramref name="connection"/> and tells its <paramref name="shard"/>.</summary>
    public void Add(ConnectionState connection, IActorRef shard)
    {
        _queue.Enqueue(connection);
        shard.Tell(Listeners.Listener.ConnectionsReadable.Instance);
    }

    /// <summary>The shard: the next connection queued, oldest first.</summary>
    public bool TryTake([NotNullWhen(true)] out ConnectionState? connection) => _queue.TryDequeue(out connection);
}
