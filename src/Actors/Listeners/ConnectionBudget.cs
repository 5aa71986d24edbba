using System.Collections.Concurrent;
using Akka.Actor;

namespace ShardRuntime.Actors.Listeners;

/// <summary>
/// The max-connections limit of one listener, shared by all of its shards. A shard takes a slot before it
/// accepts and gives it back when the connection ends; a shard that finds no slot registers and is told
/// <see cref="Listener.CapacityAvailable"/> when one frees up (connections wait in the kernel backlog meanwhile).
/// </summary>
internal sealed class ConnectionBudget
{
    private readonly ConcurrentDictionary<IActorRef, byte> _waiting = new();
    private int _open;

    public ConnectionBudget(int max) => Max = max;

    public int Max { get; }

    public int Open => Volatile.Read(ref _open);

    public bool TryAcquire()
    {
        while (true)
        {
            var open = Volatile.Read(ref _open);
            if (open >= Max) return false;
            if (Interlocked.CompareExchange(ref _open, open + 1, open) == open) return true;
        }
    }

    /// <summary>
    /// Takes a slot, or registers <paramref name="shard"/> to be told when one frees. Registering and then trying
    /// again closes the race with a release that happened in between.
    /// </summary>
    public bool TryAcquireOrWait(IActorRef shard)
    {
        if (TryAcquire()) return true;
        _waiting[shard] = 0;
        if (!TryAcquire()) return false;
        _waiting.TryRemove(shard, out _);
        return true;
    }

    public void Release()
    {
        Interlocked.Decrement(ref _open);
        if (_waiting.IsEmpty) return;
        foreach (var shard in _waiting.Keys)
        {
            if (_waiting.TryRemove(shard, out _))
                shard.Tell(Listener.CapacityAvailable.Instance);
        }
    }

    public void StopWaiting(IActorRef shard) => _waiting.TryRemove(shard, out _);
}
