using System.Net.Sockets;
using Akka.Actor;

namespace ShardRuntime.Actors.Listeners;

/// <summary>
/// What a reuseport group's actor needs of one member socket, whatever its kind: a listening socket
/// (<see cref="ShardSocket"/>, TCP) or a datagram socket (<see cref="DatagramShardSocket"/>, UDP). The group owns it
/// and alone closes it; it asks it for its shard's props, and, while it retires, when its shard last took something from
/// its queue and what the kernel still queues for it.
/// </summary>
internal interface IShardSocket : IDisposable
{
    Socket Socket { get; }

    int ShardId { get; }

    /// <summary>The kernel's inode of the socket (the same across an upgrade).</summary>
    long Inode { get; }

    bool IsDisposed { get; }

    /// <summary>Another process (a successor) holds the socket too: closing leaves it open for that process.</summary>
    bool Shared { get; set; }

    /// <summary>The dispatcher of the shard's actor, or null for Akka's default.</summary>
    string? Dispatcher { get; }

    /// <summary>When the shard last took a connection or datagram from the kernel's queue (<see cref="Environment.TickCount64"/>).</summary>
    long LastTakenAt { get; }

    /// <summary>What the shard took from the queue since it began to retire (connections or datagrams).</summary>
    long DrainedFromQueue { get; }

    /// <summary>What the kernel still queues for the socket: connections, or for a datagram socket 1 when anything waits; 0 when it cannot tell.</summary>
    int Queued();

    /// <summary>The props of the shard actor that serves the socket.</summary>
    Props ShardProps(ShardListener listener, ShardCounters counters);

    /// <summary>Closes the socket and whatever the shard left waiting with it.</summary>
    void DisposeAll();
}
