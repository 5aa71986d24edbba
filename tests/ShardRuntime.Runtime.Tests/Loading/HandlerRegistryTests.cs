using System.Runtime.CompilerServices;
using ShardRuntime.Runtime.Handlers;
using ShardRuntime.Runtime.Loading;
using ShardRuntime.Runtime.Tests.Handlers;
using Xunit.Abstractions;
using static ShardRuntime.Runtime.Tests.Loading.SampleHandlerFolder;

namespace ShardRuntime.Runtime.Tests.Loading;

[Collection(LoadingCollection.Name)]
public sealed class HandlerRegistryTests : IDisposable
{
    private readonly SampleHandlerFolder _folder = new();
    private readonly ITestOutputHelper _output;

    public HandlerRegistryTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Registry_must_give_new_connections_the_new_generation_while_old_ones_finish_on_theirs()
    {
        using var registry = HandlerRegistry.ForAssembly("greet", _folder.Spec(GreetingFactory));
        var unloaded = new List<int>();
        registry.GenerationUnloaded += g => unloaded.Add(g.Number);
        var old = registry.Acquire();
        var oldHandler = new HandlerDriver(old.CreateHandler(new FakeConnectionContext()));

        _folder.CopyVariant("v2");
        var reloaded = registry.Reload();
        var fresh = registry.Acquire();

        Assert.Equal(2, reloaded.Number);
        Assert.Same(reloaded, fresh.Generation);
        Assert.Equal("hello v2!\n", new HandlerDriver(fresh.CreateHandler(new FakeConnectionContext())).Context.WrittenText);
        Assert.Equal(1, old.Generation.Number);
        Assert.True(old.Generation.IsRetired);
        Assert.False(old.Generation.IsUnloaded);
        oldHandler.Receive("still here");
        Assert.Equal("hello v1!\nstill here", oldHandler.Context.WrittenText);
        var status = registry.Snapshot();
        Assert.Equal(2, status.CurrentGeneration);
        Assert.Equal([(2, true, 1), (1, false, 1)], status.Generations.Select(g => (g.Number, g.IsCurrent, g.LiveConnections)));
        Assert.NotEqual(status.Generations[0].FileSha256, status.Generations[1].FileSha256);

        old.Dispose();
        old.Dispose();

        Assert.True(old.Generation.IsUnloaded);
        Assert.Equal([1], unloaded);
        Assert.Equal([(2, true, 1)], registry.Snapshot().Generations.Select(g => (g.Number, g.IsCurrent, g.LiveConnections)));
        fresh.Dispose();
        Assert.False(fresh.Generation.IsUnloaded);
    }

    [Fact]
    public void Registry_must_reload_an_unchanged_file_as_a_new_generation_in_a_new_context()
    {
        using var registry = HandlerRegistry.ForAssembly("greet", _folder.Spec(GreetingFactory));
        var first = registry.Current;
        var firstType = first.Factory.GetType();
        var firstContext = first.LoadContext;

        var second = registry.Reload();

        Assert.Equal(2, second.Number);
        Assert.True(first.IsUnloaded, "an unused retired generation unloads at once");
        Assert.NotSame(firstContext, second.LoadContext);
        Assert.NotSame(firstType, second.Factory.GetType());
        Assert.Equal(first.FileSha256, second.FileSha256);
    }

    public static TheoryData<string, string, string> RefusedReloads => new()
    {
        { "missing file", "Missing.dll", "does not exist" },
        { "missing type", "SampleHandlers.Nope", "was not found in assembly 'SampleHandlers'" },
        { "wrong type", NotAHandler, "implements neither" },
        { "constructor throws", ThrowingConstructorFactory, "sample constructor refuses to start" },
        { "Initialize throws", ThrowingInitializeFactory, "sample initialisation found no configuration" },
        { "copy of the contract", EmbeddedContractFactory, "carries its own copy of the handler contract" },
    };

    [Theory]
    [MemberData(nameof(RefusedReloads))]
    public void Registry_must_refuse_a_reload_that_fails_and_keep_serving_the_current_generation(string problem, string what, string reason)
    {
        using var registry = HandlerRegistry.ForAssembly("greet", _folder.Spec(GreetingFactory));
        var current = registry.Current;
        var spec = problem switch
        {
            "missing file" => new HandlerAssemblySpec(Path.Combine(_folder.Folder, what), GreetingFactory),
            "copy of the contract" => new HandlerAssemblySpec(VariantAssemblyPath("embedded-contract", "SampleHandlers.EmbeddedContract"), what),
            _ => _folder.Spec(what),
        };

        var e = Assert.Throws<HandlerLoadException>(() => registry.Reload(spec));

        Assert.Contains(reason, e.Reason);
        Assert.Same(current, registry.Current);
        Assert.False(current.IsRetired);
        Assert.Equal(e.Message, registry.Snapshot().LastReloadFailure);
        Assert.Equal([1], registry.Snapshot().Generations.Select(g => g.Number));
        using var lease = registry.Acquire();
        Assert.Same(current, lease.Generation);
        Assert.Equal("hello v1!\n", new HandlerDriver(lease.CreateHandler(new FakeConnectionContext())).Context.WrittenText);

        // The refused spec is not remembered: the next plain reload loads the working one again, and clears the failure.
        Assert.Equal(2, registry.Reload().Number);
        Assert.Null(registry.Snapshot().LastReloadFailure);
    }

    [Fact]
    public void Registry_must_refuse_a_reload_of_a_file_a_broken_build_left_behind()
    {
        using var registry = HandlerRegistry.ForAssembly("greet", _folder.Spec(GreetingFactory));
        File.WriteAllBytes(_folder.AssemblyPath, new byte[100]);

        var e = Assert.Throws<HandlerLoadException>(registry.Reload);

        Assert.Contains("is not a .NET assembly", e.Reason);
        Assert.Equal(1, registry.Current.Number);
        Assert.Equal("hello v1!\n", new HandlerDriver(registry.Acquire().CreateHandler(new FakeConnectionContext())).Context.WrittenText);

        _folder.CopyVariant("v2");
        Assert.Equal(2, registry.Reload().Number);
        Assert.Equal("hello v2!\n", new HandlerDriver(registry.Acquire().CreateHandler(new FakeConnectionContext())).Context.WrittenText);
    }

    [Fact]
    public void Registry_must_not_be_created_when_the_first_generation_fails_to_load()
    {
        var e = Assert.Throws<HandlerLoadException>(() => HandlerRegistry.ForAssembly("greet", _folder.Spec(ThrowingInitializeFactory)));

        Assert.Contains("Initialize()", e.Reason);
    }

    [Fact]
    public void Registry_must_reload_a_built_in_handler_as_the_same_code_with_a_new_number()
    {
        using var registry = HandlerRegistry.ForBuiltIn("web", HttpOkHandlerFactory.HandlerName);
        var lease = registry.Acquire();

        var second = registry.Reload();

        Assert.Equal(2, second.Number);
        Assert.Same(lease.Generation.Factory, second.Factory);
        Assert.Equal([(2, 0), (1, 1)], registry.Snapshot().Generations.Select(g => (g.Number, g.LiveConnections)));
        lease.Dispose();
        Assert.True(lease.Generation.IsUnloaded);
        Assert.Single(registry.Snapshot().Generations);
    }

    [Fact]
    public void Registry_must_retire_its_generation_when_disposed_and_refuse_new_connections()
    {
        var registry = HandlerRegistry.ForAssembly("greet", _folder.Spec(GreetingFactory));
        var lease = registry.Acquire();

        registry.Dispose();

        Assert.Throws<ObjectDisposedException>(registry.Acquire);
        Assert.Throws<ObjectDisposedException>(registry.Reload);
        Assert.False(lease.Generation.IsUnloaded);
        Assert.Equal(0, registry.Snapshot().CurrentGeneration);
        lease.Dispose();
        Assert.True(lease.Generation.IsUnloaded);
        Assert.Throws<ObjectDisposedException>(() => lease.CreateHandler(new FakeConnectionContext()));
    }

    [Fact]
    public async Task Registry_must_hand_out_a_live_generation_to_every_connection_during_concurrent_reloads()
    {
        using var registry = HandlerRegistry.ForAssembly("greet", _folder.Spec(GreetingFactory));
        using var stop = new CancellationTokenSource();
        var failures = 0;
        var served = 0;
        var connections = Enumerable.Range(0, 4).Select(_ => new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var lease = registry.Acquire();
                try
                {
                    var driver = new HandlerDriver(lease.CreateHandler(new FakeConnectionContext(256)));
                    if (driver.Context.WrittenText != "hello v1!\n")
                    {
                        Interlocked.Increment(ref failures);
                    }
                }
                catch (Exception)
                {
                    Interlocked.Increment(ref failures);
                }

                Interlocked.Increment(ref served);
            }
        }) { IsBackground = true }).ToList();
        connections.ForEach(t => t.Start());

        for (var i = 0; i < 20; i++)
        {
            // Every generation serves connections while the next one loads and replaces it.
            var before = Volatile.Read(ref served);
            Assert.True(
                await Eventually.TrueAsync(() => Volatile.Read(ref served) >= before + 20, Eventually.Timeout),
                $"the connection threads served nothing within {Eventually.Timeout.TotalSeconds} s before reload {i + 1}");
            registry.Reload();
        }

        stop.Cancel();
        connections.ForEach(t => t.Join());

        Assert.Equal(0, failures);
        Assert.Equal(21, registry.Current.Number);
        Assert.Equal([21], registry.Snapshot().Generations.Select(g => g.Number));
    }

    [Fact]
    public void Registry_must_unload_every_replaced_generation_and_not_grow_memory_over_50_reloads()
    {
        using var registry = HandlerRegistry.ForAssembly("greet", _folder.Spec(GreetingFactory));
        var contexts = new List<WeakReference>();
        const int warmUp = 5;
        const int reloads = 50;
        for (var i = 0; i < warmUp; i++)
        {
            contexts.Add(ServeReloadAndFinish(registry));
        }

        Assert.True(Collectibles.AllDie(contexts), "a replaced generation's context survived the warm-up");
        var baseline = Collectibles.SettledHeapBytes();

        for (var i = warmUp; i < reloads; i++)
        {
            contexts.Add(ServeReloadAndFinish(registry));
        }

        Assert.True(Collectibles.AllDie(contexts), $"{contexts.Count(c => c.IsAlive)} of {contexts.Count} replaced contexts survived");
        var after = Collectibles.SettledHeapBytes();
        _output.WriteLine($"managed heap after {warmUp} reloads: {baseline:N0} bytes; after {reloads}: {after:N0} bytes ({after - baseline:+#,0;-#,0;0})");
        Assert.Equal(reloads + 1, registry.Current.Number);
        Assert.Single(registry.Snapshot().Generations);

        // A leaked generation keeps its assembly, types and factory: 45 of them would be far above this bound.
        Assert.True(after - baseline < 512 * 1024, $"the managed heap grew by {after - baseline:N0} bytes over {reloads - warmUp} reloads");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference ServeReloadAndFinish(HandlerRegistry registry)
    {
        var lease = registry.Acquire();
        var context = new WeakReference(lease.Generation.LoadContext);
        var driver = new HandlerDriver(lease.CreateHandler(new FakeConnectionContext(256)));
        driver.Receive("x");
        Assert.Equal("hello v1!\nx", driver.Context.WrittenText);

        registry.Reload();

        Assert.False(lease.Generation.IsUnloaded);
        lease.Dispose();
        Assert.True(lease.Generation.IsUnloaded);
        return context;
    }
}
