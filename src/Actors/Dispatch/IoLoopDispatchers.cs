using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using ShardRuntime.Runtime.Sockets.Readiness;

namespace ShardRuntime.Actors.Dispatch;

/// <summary>
/// Akka dispatchers that run actors on the process's I/O loops (<see cref="ReadinessEngine.Loop"/>): the thread that
/// waits in epoll_wait for a loop's sockets also runs the mailboxes of the actors on its dispatcher, between its waits.
/// A shard actor and its connection actors run on their shard's loop (shard id modulo the number of loops), so the
/// readiness of a listening socket or a connection reaches its actor without a thread switch, as in nginx's workers.
/// Registered per actor system (<see cref="EnsureRegistered"/>) under <c>shard-runtime.io-loop-&lt;n&gt;</c>.
/// </summary>
internal static class IoLoopDispatchers
{
    /// <summary>Messages an actor handles in one mailbox run before the loop goes on with others.</summary>
    private const int Throughput = 32;

    public static string Id(int loop) => $"shard-runtime.io-loop-{loop}";

    /// <summary>Registers the dispatchers of loops 0 .. <paramref name="loops"/>-1 with the actor system (idempotent).</summary>
    public static void EnsureRegistered(ActorSystem system, int loops)
    {
        var dispatchers = system.Dispatchers;
        for (var loop = 0; loop < loops; loop++)
        {
            var id = Id(loop);
            if (dispatchers.HasDispatcher(id)) continue;
            var config = ConfigurationFactory.ParseString($"id = \"{id}\"").WithFallback(dispatchers.DefaultDispatcherConfig);
            dispatchers.RegisterConfigurator(id, new Configurator(config, dispatchers.Prerequisites, ReadinessEngine.Loop(loop), id));
        }
    }

    private sealed class Configurator : MessageDispatcherConfigurator
    {
        private readonly MessageDispatcher _dispatcher;

        public Configurator(Config config, IDispatcherPrerequisites prerequisites, ReadinessEngine loop, string id)
            : base(config, prerequisites) =>
            _dispatcher = new Akka.Dispatch.Dispatcher(this, id, Throughput, null, new ExecutorFactory(loop), TimeSpan.FromSeconds(1));

        public override MessageDispatcher Dispatcher() => _dispatcher;
    }

    private sealed class ExecutorFactory(ReadinessEngine loop) : ExecutorServiceFactory
    {
        public override ExecutorService Produce(string id) => new LoopExecutor(id, loop);
    }

    private sealed class LoopExecutor(string id, ReadinessEngine loop) : ExecutorService(id)
    {
        public override void Execute(IRunnable run) => loop.Post(run as IThreadPoolWorkItem ?? new RunnableItem(run));

        // The loop belongs to the process (and to every actor system in it): a dispatcher with no actors left lets go
        // of this executor, never of the loop.
        public override void Shutdown()
        {
        }
    }

    private sealed class RunnableItem(IRunnable run) : IThreadPoolWorkItem
    {
        public void Execute() => run.Run();
    }
}
