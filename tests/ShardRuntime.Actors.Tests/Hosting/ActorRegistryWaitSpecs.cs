using Akka.Actor;
using Akka.Hosting;
using ShardRuntime.Actors.Hosting;

namespace ShardRuntime.Actors.Tests.Hosting;

/// <summary>Waiting for a registration closes Akka.Hosting's window between its look and its waiter.</summary>
public sealed class ActorRegistryWaitSpecs
{
    private sealed class Key;

    [Fact]
    public async Task A_registration_made_between_the_first_look_and_the_waiter_must_be_found()
    {
        // The registry's own GetAsync misses it: it looked before, and its waiter came after the registration.
        var registry = new RaceRegistry();
        Assert.False(registry.GetAsync<Key>(CancellationToken.None).IsCompleted); // and never completes: nobody completes its waiter

        var found = await new RaceRegistry().WaitForAsync<Key>().WaitAsync(Clients.Timeout);
        Assert.Same(RaceRegistry.Registered, found);
    }

    [Fact]
    public async Task A_registration_after_the_wait_began_must_complete_it()
    {
        using var system = ActorSystem.Create("registry-wait");
        var registry = ActorRegistry.For(system);
        var waiting = registry.WaitForAsync<Key>();
        Assert.False(waiting.IsCompleted);
        registry.Register<Key>(ActorRefs.Nobody);
        Assert.Same(ActorRefs.Nobody, await waiting.WaitAsync(Clients.Timeout));
        await system.Terminate();
    }

    /// <summary>A registry whose GetAsync loses the race: the actor is registered while it adds its waiter, which then waits forever.</summary>
    private sealed class RaceRegistry : IReadOnlyActorRegistry
    {
        public static readonly IActorRef Registered = ActorRefs.Nobody;
        private bool _registered;

        public Task<IActorRef> GetAsync<TKey>(CancellationToken ct = default) => GetAsync(typeof(TKey), ct);

        public Task<IActorRef> GetAsync(Type key, CancellationToken ct = default)
        {
            _registered = true; // registered after its first look, before its waiter: nobody completes the waiter
            return new TaskCompletionSource<IActorRef>().Task;
        }

        public bool TryGet<TKey>(out IActorRef actor) => TryGet(typeof(TKey), out actor);

        public bool TryGet(Type key, out IActorRef actor)
        {
            actor = _registered ? Registered : ActorRefs.Nobody;
            return _registered;
        }

        public IActorRef Get<TKey>() => TryGet<TKey>(out var actor) ? actor : throw new InvalidOperationException("not registered");

        public IEnumerator<KeyValuePair<Type, IActorRef>> GetEnumerator() =>
            (_registered ? new[] { KeyValuePair.Create(typeof(Key), Registered) } : []).AsEnumerable().GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
