using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;

namespace ShardRuntime.Actors.Connections;

/// <summary>
/// The mailbox of connection actors: an unbounded queue that starts with room for 4 messages and grows only when
/// more wait. Akka's default (a ConcurrentQueue) sets aside a 32-slot segment, over 1 KiB, for every actor; a
/// connection rarely has more than one or two messages waiting, and ten thousand idle connections should not pay for
/// room they never use. Enqueue and dequeue take a short spin lock: the owner dequeues, the readiness engine, timers
/// and other actors enqueue, and no one holds the lock longer than a copy of one envelope. Never allocates in steady state.
/// </summary>
public sealed class ConnectionMailbox : MailboxType
{
    /// <summary>The mailbox's id in configuration.</summary>
    public const string Id = "shard-runtime.connection-mailbox";

    private static readonly Config MailboxConfig = ConfigurationFactory.ParseString(
        $"{Id} {{ mailbox-type = \"{typeof(ConnectionMailbox).FullName}, {typeof(ConnectionMailbox).Assembly.GetName().Name}\" }}");

    internal static readonly Deploy Deploy = Deploy.None.WithMailbox(Id);

    /// <summary>Made by Akka.NET from the mailbox's configuration.</summary>
    public ConnectionMailbox(Akka.Actor.Settings settings, Config config) : base(settings, config)
    {
    }

    /// <inheritdoc />
    public override IMessageQueue Create(IActorRef owner, ActorSystem system) => new Queue();

    /// <summary>Makes the mailbox known to <paramref name="system"/> (reference.conf has it too; a system made without it gets it here).</summary>
    internal static void EnsureConfigured(ActorSystem system)
    {
        if (!system.Settings.Config.HasPath($"{Id}.mailbox-type"))
            system.Settings.InjectTopLevelFallback(MailboxConfig);
    }

    /// <summary>A growable ring of envelopes behind a spin lock.</summary>
    internal sealed class Queue : IMessageQueue, IUnboundedMessageQueueSemantics
    {
        private Envelope[] _ring = new Envelope[4];
        private int _head;
        private int _count;
        private int _lock;

        public bool HasMessages => Volatile.Read(ref _count) > 0;

        public int Count => Volatile.Read(ref _count);

        public void Enqueue(IActorRef receiver, Envelope envelope)
        {
            Enter();
            try
            {
                if (_count == _ring.Length) Grow();
                _ring[(_head + _count) % _ring.Length] = envelope;
                Volatile.Write(ref _count, _count + 1);
            }
            finally
            {
                Volatile.Write(ref _lock, 0);
            }
        }

        public bool TryDequeue(out Envelope envelope)
        {
            if (Volatile.Read(ref _count) == 0)
            {
                envelope = default;
                return false;
            }
            Enter();
            try
            {
                if (_count == 0)
                {
                    envelope = default;
                    return false;
                }
                envelope = _ring[_head];
                _ring[_head] = default; // let the message go
                _head = (_head + 1) % _ring.Length;
                Volatile.Write(ref _count, _count - 1);
                return true;
            }
            finally
            {
                Volatile.Write(ref _lock, 0);
            }
        }

        public void CleanUp(IActorRef owner, IMessageQueue deadletters)
        {
            while (TryDequeue(out var envelope)) deadletters.Enqueue(owner, envelope);
        }

        private void Enter()
        {
            if (Interlocked.CompareExchange(ref _lock, 1, 0) == 0) return;
            var spin = new SpinWait();
            do spin.SpinOnce(sleep1Threshold: -1);
            while (Interlocked.CompareExchange(ref _lock, 1, 0) != 0);
        }

        private void Grow()
        {
            var bigger = new Envelope[_ring.Length * 2];
            for (var i = 0; i < _count; i++) bigger[i] = _ring[(_head + i) % _ring.Length];
            _ring = bigger;
            _head = 0;
        }
    }
}
