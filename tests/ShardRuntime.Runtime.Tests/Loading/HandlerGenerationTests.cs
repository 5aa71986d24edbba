using System.Runtime.CompilerServices;
using ShardRuntime.Runtime.Handlers;
using ShardRuntime.Runtime.Loading;
using ShardRuntime.Runtime.Tests.Handlers;
using static ShardRuntime.Runtime.Tests.Loading.SampleHandlerFolder;

namespace ShardRuntime.Runtime.Tests.Loading;

[Collection(LoadingCollection.Name)]
public sealed class HandlerGenerationTests : IDisposable
{
    private readonly SampleHandlerFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Generation_must_stay_loaded_while_retired_until_its_last_connection_releases_it()
    {
        var generation = HandlerLoader.Load(_folder.Spec(GreetingFactory), 1);
        var unloaded = 0;
        generation.Unloaded += _ => unloaded++;
        generation.Acquire();
        generation.Acquire();

        generation.Retire();
        Assert.True(generation.IsRetired);
        Assert.False(generation.IsUnloaded);
        Assert.NotNull(generation.LoadContext);
        Assert.Equal("hello v1!\n", new HandlerDriver(generation.Factory.Create(new FakeConnectionContext())).Context.WrittenText);

        generation.Release();
        Assert.False(generation.IsUnloaded);
        Assert.Equal(1, generation.LiveConnections);

        generation.Release();
        Assert.True(generation.IsUnloaded);
        Assert.Equal(0, generation.LiveConnections);
        Assert.Null(generation.LoadContext);
        Assert.Throws<InvalidOperationException>(() => generation.Factory);
        Assert.Equal(1, unloaded);
        Assert.False(generation.TryAcquire());
        Assert.Throws<InvalidOperationException>(generation.Acquire);
    }

    [Fact]
    public void Generation_must_not_unload_while_current_even_with_no_connections()
    {
        var generation = HandlerLoader.Load(_folder.Spec(GreetingFactory), 1);

        generation.Acquire();
        generation.Release();

        Assert.False(generation.IsUnloaded);
        Assert.NotNull(generation.LoadContext);
        generation.Retire();
        Assert.True(generation.IsUnloaded);
    }

    [Fact]
    public void Generation_must_refuse_more_releases_than_acquisitions()
    {
        var generation = HandlerGeneration.FromBuiltIn(EchoHandlerFactory.HandlerName, 1);
        generation.Acquire();
        generation.Release();

        Assert.Throws<InvalidOperationException>(generation.Release);
    }

    [Fact]
    public void Generation_must_call_an_Unloaded_handler_added_after_the_unload_at_once()
    {
        var generation = HandlerGeneration.FromBuiltIn(EchoHandlerFactory.HandlerName, 1);
        generation.Retire();
        HandlerGeneration? seen = null;

        generation.Unloaded += g => seen = g;

        Assert.Same(generation, seen);
    }

    [Fact]
    public void Generation_must_wrap_a_built_in_handler_without_a_context()
    {
        var generation = HandlerGeneration.FromBuiltIn(EchoHandlerFactory.HandlerName, 3);

        Assert.True(generation.IsBuiltIn);
        Assert.Null(generation.LoadContext);
        Assert.Null(generation.Spec);
        Assert.Null(generation.FileSha256);
        Assert.Equal(3, generation.Number);
        Assert.Equal("echo", generation.Name);
        Assert.Same(BuiltInHandlers.Get("echo"), generation.Factory);
        Assert.Throws<ArgumentException>(() => HandlerGeneration.FromBuiltIn("nope", 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => HandlerGeneration.FromBuiltIn("echo", 0));
    }

    [Fact]
    public void Generation_must_let_its_context_be_collected_after_the_last_release_of_a_retired_generation()
    {
        var (generation, context) = LoadServeAndRetireHoldingOneConnection(_folder.Spec(GreetingFactory));
        Assert.False(generation.IsUnloaded);
        Assert.False(Collectibles.Dies(context), "the context died while a connection still held its generation");

        generation.Release();

        Assert.True(generation.IsUnloaded);
        Assert.True(Collectibles.Dies(context), $"the context is still alive after {Collectibles.MaxCollections} collections");
    }

    [Fact]
    public void Generation_must_unload_exactly_once_when_releases_race_with_retire()
    {
        for (var round = 0; round < 200; round++)
        {
            var generation = HandlerGeneration.FromBuiltIn(EchoHandlerFactory.HandlerName, 1);
            var unloaded = 0;
            generation.Unloaded += _ => Interlocked.Increment(ref unloaded);
            const int connections = 16;
            for (var i = 0; i < connections; i++)
            {
                generation.Acquire();
            }

            using var start = new Barrier(connections + 1);
            var threads = Enumerable.Range(0, connections + 1).Select(i => new Thread(() =>
            {
                start.SignalAndWait();
                if (i == connections)
                {
                    generation.Retire();
                }
                else
                {
                    generation.Release();
                }
            })).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());

            Assert.True(generation.IsUnloaded);
            Assert.Equal(1, unloaded);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (HandlerGeneration Generation, WeakReference Context) LoadServeAndRetireHoldingOneConnection(HandlerAssemblySpec spec)
    {
        var generation = HandlerLoader.Load(spec, 1);
        generation.Acquire();
        var driver = new HandlerDriver(generation.Factory.Create(new FakeConnectionContext()));
        driver.Receive("ping");
        Assert.Equal("hello v1!\nping", driver.Context.WrittenText);
        generation.Retire();
        return (generation, new WeakReference(generation.LoadContext));
    }
}
