using Akka.Actor;
using Akka.Hosting;

namespace ShardRuntime.Actors.Hosting;

/// <summary>Waiting for an actor to be registered in Akka.Hosting's <see cref="ActorRegistry"/>, without its race.</summary>
public static class ActorRegistryWait
{
    /// <summary>
    /// The actor registered under <typeparamref name="TKey"/>, once it is. Akka.Hosting's <c>GetAsync</c> looks first
    /// and only then adds its waiter: a registration made in between notifies nobody, and the wait runs until
    /// <paramref name="cancellationToken"/> (seen on a loaded machine). So this looks once more after the waiter is in:
    /// a registration before that second look is found by it, one after it completes the waiter.
    /// </summary>
    public static async Task<IActorRef> WaitForAsync<TKey>(this IReadOnlyActorRegistry registry, CancellationToken cancellationToken = default)
    {
        var waiting = registry.GetAsync<TKey>(cancellationToken); // runs synchronously up to its wait: the waiter is in
        if (registry.TryGet<TKey>(out var registered)) return registered;
        return await waiting.ConfigureAwait(false);
    }
}
