using Akka.Actor;
using ShardRuntime.Runtime.Sockets.Readiness;

namespace ShardRuntime.Actors.Connections;

/// <summary>
/// Tells whoever runs a connection that its socket became ready. Called on the readiness engine's thread, after the
/// connection's steps (<see cref="ConnectionDriver"/>) armed its registration; the connection is the registration's
/// state, so one instance serves every connection (<see cref="Instance"/>) and a connection costs no listener object.
/// Input for a connection waiting in its shard (no actor yet) wakes the shard (<see cref="ReadableConnections"/>), which
/// passes it on should an actor have taken over meanwhile; a connection with an actor hears
/// <see cref="Connection.ReceiveReady"/> or <see cref="Connection.SendReady"/>. Only reads the connection's fields.
/// </summary>
internal sealed class ConnectionReadiness : IReadinessListener
{
    /// <summary>The listener of every connection's registration.</summary>
    public static readonly ConnectionReadiness Instance = new();

    private ConnectionReadiness()
    {
    }

    void IReadinessListener.OnReadable(object? state)
    {
        var connection = (ConnectionState)state!;
        if (Volatile.Read(ref connection.Finished)) return;
        var self = Volatile.Read(ref connection.Self);
        if (!ReferenceEquals(self, ActorRefs.Nobody))
        {
            self.Tell(Connection.ReceiveReady.Instance);
            return;
        }
        // Waiting in the shard: the shard goes on with it. (None owns the socket just now: the wake-up is lost, as a
        // message to a shard between two instances would be.)
        if (connection.Shard.Owner is { } shard) connection.Shard.Readable.Add(connection, shard);
    }

    void IReadinessListener.OnWritable(object? state)
    {
        var connection = (ConnectionState)state!;
        if (!Volatile.Read(ref connection.Finished)) connection.Self.Tell(Connection.SendReady.Instance);
    }
}
