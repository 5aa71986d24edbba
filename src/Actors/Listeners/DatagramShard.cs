using Akka.Actor;
using Akka.Event;

namespace ShardRuntime.Actors.Listeners;

/// <summary>
/// Protocol of a UDP shard actor (<c>/user/shard-runtime/group-&lt;n&gt;/listener-&lt;name&gt;-&lt;id&gt;</c>): it receives
/// and answers datagrams on one datagram socket of its group. Its group tells it what it tells a TCP shard
/// (<see cref="Listener.Retire"/>, <see cref="Listener.Park"/>, <see cref="Listener.Resume"/>,
/// <see cref="Listener.SocketClosed"/>, <see cref="Listener.GenerationChanged"/>); any other message is its handler's
/// (<see cref="Runtime.Datagrams.IDatagramHandler.OnMessage"/>). Its wake-ups are not logged as dead letters when they
/// reach a shard that just stopped.
/// </summary>
public static class DatagramShard
{
    internal static Props Props(ShardListener listener, DatagramShardSocket socket, ShardCounters counters) =>
        Akka.Actor.Props.Create(() => new DatagramShardActor(listener, socket, counters));

    /// <summary>Sender: the readiness engine's thread (through <see cref="DatagramShardSocket"/>), when an armed socket got datagrams, or the group after it closed the socket. No reply.</summary>
    internal sealed class Readable : IDeadLetterSuppression
    {
        public static readonly Readable Instance = new();
        private Readable() { }
    }

    /// <summary>Sender: the readiness engine's thread, when a socket armed for write (its send buffer was full) has room again. No reply.</summary>
    internal sealed class Writable : IDeadLetterSuppression
    {
        public static readonly Writable Instance = new();
        private Writable() { }
    }

    /// <summary>Sender: the shard itself, after a turn that spent its budget of batches (datagrams may still wait), or at its start. No reply.</summary>
    internal sealed class ReceiveMore : IDeadLetterSuppression
    {
        public static readonly ReceiveMore Instance = new();
        private ReceiveMore() { }
    }
}
