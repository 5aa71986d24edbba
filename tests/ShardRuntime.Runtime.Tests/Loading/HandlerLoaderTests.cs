using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using ShardRuntime.Runtime.Connections;
using ShardRuntime.Runtime.Loading;
using ShardRuntime.Runtime.Tests.Handlers;
using static ShardRuntime.Runtime.Tests.Loading.SampleHandlerFolder;

namespace ShardRuntime.Runtime.Tests.Loading;

[Collection(LoadingCollection.Name)]
public sealed class HandlerLoaderTests : IDisposable
{
    private readonly SampleHandlerFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Loader_must_load_a_factory_whose_handlers_serve_a_connection()
    {
        var generation = HandlerLoader.Load(_folder.Spec(GreetingFactory), 1);

        var driver = new HandlerDriver(generation.Factory.Create(new FakeConnectionContext()));
        driver.Receive("ping");

        Assert.Equal("hello v1!\nping", driver.Context.WrittenText);
        Assert.Equal("greeting", generation.Name);
        Assert.Equal(1, generation.Number);
        Assert.False(generation.IsBuiltIn);
        Assert.True(generation.LoadContext!.IsCollectible);
        Assert.Equal(Path.GetFullPath(_folder.AssemblyPath), generation.Spec!.AssemblyPath);
        Assert.Equal(File.GetLastWriteTimeUtc(_folder.AssemblyPath), generation.FileTimestampUtc);
        Assert.Equal(
            Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(_folder.AssemblyPath))),
            generation.FileSha256);
        generation.Retire();
    }

    [Fact]
    public void Loader_must_wrap_a_handler_type_in_a_factory_that_creates_one_per_connection()
    {
        var generation = HandlerLoader.Load(_folder.Spec(GreetingHandler), 1);

        var first = generation.Factory.Create(new FakeConnectionContext());
        var second = generation.Factory.Create(new FakeConnectionContext());
        var driver = new HandlerDriver(first);

        Assert.NotSame(first, second);
        Assert.Equal(GreetingHandler, generation.Name);
        Assert.Equal("hello v1!\n", driver.Context.WrittenText);
        generation.Retire();
    }

    [Fact]
    public void Loader_must_call_Initialize_once_before_serving_and_dispose_the_factory_when_the_generation_unloads()
    {
        var initialized = Counter(SampleInitializedKey);
        var disposed = Counter(SampleDisposedKey);

        var generation = HandlerLoader.Load(_folder.Spec(GreetingFactory), 1);
        Assert.Equal(initialized + 1, Counter(SampleInitializedKey));
        Assert.Equal(disposed, Counter(SampleDisposedKey));

        generation.Retire();
        Assert.True(generation.IsUnloaded);
        Assert.Equal(disposed + 1, Counter(SampleDisposedKey));
        Assert.Null(generation.UnloadFailure);
    }

    [Fact]
    public void Loader_must_share_the_hosts_contract_even_when_a_copy_of_it_lies_next_to_the_handler()
    {
        Assert.True(File.Exists(Path.Combine(_folder.Folder, "ShardRuntime.Runtime.dll")), "the fixture should carry the copy a naive build makes");

        var generation = HandlerLoader.Load(_folder.Spec(GreetingFactory), 1);

        var contract = generation.Factory.GetType().GetInterfaces().Single(i => i.Name == nameof(IConnectionHandlerFactory));
        Assert.Same(typeof(IConnectionHandlerFactory), contract);
        Assert.DoesNotContain(generation.LoadContext!.Assemblies, a => a.GetName().Name == "ShardRuntime.Runtime");
        generation.Retire();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Loader_must_load_private_dependencies_from_the_handlers_folder_into_its_own_context(bool withDepsJson)
    {
        if (!withDepsJson)
        {
            File.Delete(Path.ChangeExtension(_folder.AssemblyPath, ".deps.json"));
        }

        var generation = HandlerLoader.Load(_folder.Spec(GreetingFactory), 1);
        var driver = new HandlerDriver(generation.Factory.Create(new FakeConnectionContext()));

        Assert.Equal("hello v1!\n", driver.Context.WrittenText);
        Assert.Contains(generation.LoadContext!.Assemblies, a => a.GetName().Name == "SampleHandlers.PrivateDependency");
        Assert.DoesNotContain(AssemblyLoadContext.Default.Assemblies, a => a.GetName().Name!.StartsWith("SampleHandlers", StringComparison.Ordinal));
        generation.Retire();
    }

    [Theory]
    [InlineData(ShoutDatagramFactory, "shout")]
    [InlineData(ShoutDatagramHandler, ShoutDatagramHandler)]
    public void Loader_must_load_a_datagram_handler_factory_or_handler_type_as_a_datagram_generation(string type, string name)
    {
        var generation = HandlerLoader.Load(_folder.Spec(type), 1);

        Assert.True(generation.IsDatagram);
        Assert.Equal(name, generation.Name);
        Assert.Equal(name, generation.DatagramFactory.Name);
        Assert.Throws<InvalidOperationException>(() => generation.Factory);
        generation.Retire();
    }

    [Fact]
    public void Loader_must_make_a_new_context_and_new_types_for_every_generation_of_the_same_file()
    {
        var first = HandlerLoader.Load(_folder.Spec(GreetingFactory), 1);
        var second = HandlerLoader.Load(_folder.Spec(GreetingFactory), 2);

        Assert.NotSame(first.LoadContext, second.LoadContext);
        Assert.NotSame(first.Factory.GetType(), second.Factory.GetType());
        Assert.Equal(first.Factory.GetType().FullName, second.Factory.GetType().FullName);
        Assert.Equal(first.FileSha256, second.FileSha256);
        first.Retire();
        second.Retire();
    }

    [Fact]
    public void Loader_must_leave_the_file_unlocked_so_a_build_can_overwrite_it_while_it_serves()
    {
        var generation = HandlerLoader.Load(_folder.Spec(GreetingFactory), 1);
        var handler = generation.Factory.Create(new FakeConnectionContext());

        File.Copy(VariantAssemblyPath("v2"), _folder.AssemblyPath, overwrite: true);
        File.Copy(Path.ChangeExtension(VariantAssemblyPath("v2"), ".pdb"), Path.ChangeExtension(_folder.AssemblyPath, ".pdb"), overwrite: true);

        // The loaded code still runs from memory, unaffected by the new file.
        Assert.Equal("hello v1!\n", new HandlerDriver(handler).Context.WrittenText);
        Assert.Equal("hello v1!\n", new HandlerDriver(generation.Factory.Create(new FakeConnectionContext())).Context.WrittenText);
        var next = HandlerLoader.Load(_folder.Spec(GreetingFactory), 2);
        Assert.Equal("hello v2!\n", new HandlerDriver(next.Factory.Create(new FakeConnectionContext())).Context.WrittenText);
        Assert.NotEqual(generation.FileSha256, next.FileSha256);
        generation.Retire();
        next.Retire();
    }

    [Fact]
    public void Loader_must_refuse_a_missing_file_naming_the_path()
    {
        var missing = Path.Combine(_folder.Folder, "Nope.dll");

        var e = Assert.Throws<HandlerLoadException>(() => HandlerLoader.Load(new HandlerAssemblySpec(missing, GreetingFactory), 1));

        Assert.Contains($"'{missing}' does not exist", e.Reason);
        Assert.Contains(missing, e.Message);
        Assert.Contains(GreetingFactory, e.Message);
    }

    [Fact]
    public void Loader_must_refuse_a_file_that_is_not_an_assembly()
    {
        File.WriteAllText(_folder.AssemblyPath, "not a portable executable");

        var e = Assert.Throws<HandlerLoadException>(() => HandlerLoader.Load(_folder.Spec(GreetingFactory), 1));

        Assert.Contains("is not a .NET assembly", e.Reason);
    }

    [Fact]
    public void Loader_must_refuse_a_missing_type_listing_the_types_that_implement_the_contract()
    {
        var e = Assert.Throws<HandlerLoadException>(() => HandlerLoader.Load(_folder.Spec("SampleHandlers.Nope"), 1));

        Assert.Contains("type 'SampleHandlers.Nope' was not found in assembly 'SampleHandlers'", e.Reason);
        Assert.Contains("SampleHandlers.GreetingFactory (factory)", e.Reason);
        Assert.Contains("SampleHandlers.GreetingHandler (handler)", e.Reason);
        Assert.DoesNotContain(NotAHandler, e.Reason);
    }

    [Fact]
    public void Loader_must_point_out_a_type_name_in_the_wrong_case()
    {
        var e = Assert.Throws<HandlerLoadException>(() => HandlerLoader.Load(_folder.Spec("samplehandlers.greetingfactory"), 1));

        Assert.Contains($"did you mean '{GreetingFactory}'", e.Reason);
    }

    [Fact]
    public void Loader_must_refuse_a_type_that_implements_no_contract()
    {
        var e = Assert.Throws<HandlerLoadException>(() => HandlerLoader.Load(_folder.Spec(NotAHandler), 1));

        Assert.Contains($"'{NotAHandler}' implements neither {typeof(IConnectionHandlerFactory).FullName} nor {typeof(IConnectionHandler).FullName}", e.Reason);
        Assert.Contains("SampleHandlers.GreetingFactory (factory)", e.Reason);
    }

    [Fact]
    public void Loader_must_refuse_a_factory_without_a_public_parameterless_constructor()
    {
        var e = Assert.Throws<HandlerLoadException>(() => HandlerLoader.Load(_folder.Spec(ArgumentConstructorFactory), 1));

        Assert.Contains("has no public parameterless constructor", e.Reason);
    }

    [Theory]
    [InlineData(ThrowingConstructorFactory, "the constructor of 'SampleHandlers.ThrowingConstructorFactory' threw InvalidOperationException: sample constructor refuses to start")]
    [InlineData(ThrowingConstructorHandler, "the constructor of 'SampleHandlers.ThrowingConstructorHandler' threw InvalidOperationException: sample handler constructor refuses")]
    [InlineData(ThrowingInitializeFactory, "'SampleHandlers.ThrowingInitializeFactory.Initialize()' threw InvalidOperationException: sample initialisation found no configuration")]
    public void Loader_must_refuse_a_handler_that_throws_while_constructed_or_initialised_with_its_message(string typeName, string reason)
    {
        var e = Assert.Throws<HandlerLoadException>(() => HandlerLoader.Load(_folder.Spec(typeName), 1));

        Assert.Equal(reason, e.Reason);
        Assert.IsType<InvalidOperationException>(e.InnerException);
    }

    [Fact]
    public void Loader_must_say_so_when_the_handler_carries_its_own_copy_of_the_contract()
    {
        var spec = new HandlerAssemblySpec(VariantAssemblyPath("embedded-contract", "SampleHandlers.EmbeddedContract"), EmbeddedContractFactory);

        var e = Assert.Throws<HandlerLoadException>(() => HandlerLoader.Load(spec, 1));

        Assert.Contains($"implements {typeof(IConnectionHandlerFactory).FullName} from assembly 'SampleHandlers.EmbeddedContract'", e.Reason);
        Assert.Contains("(compiled into the handler assembly itself)", e.Reason);
        Assert.Contains("not the host's ShardRuntime.Runtime", e.Reason);
        Assert.Contains("carries its own copy of the handler contract", e.Reason);
    }

    [Fact]
    public void Loader_must_unload_the_context_of_a_refused_load()
    {
        var context = RefusedLoadContext(_folder.Spec(ThrowingInitializeFactory));

        Assert.True(Collectibles.Dies(context), "the context of a refused load is still alive");
    }

    private const string SampleInitializedKey = "SampleHandlers.GreetingFactory.Initialized";
    private const string SampleDisposedKey = "SampleHandlers.GreetingFactory.Disposed";

    private static int Counter(string key) => AppContext.GetData(key) as int? ?? 0;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference RefusedLoadContext(HandlerAssemblySpec spec)
    {
        // An unloading context leaves AssemblyLoadContext.All, so catch it as its handler assembly loads.
        WeakReference? context = null;
        AssemblyLoadEventHandler onLoad = (_, args) =>
        {
            if (args.LoadedAssembly.GetName().Name == "SampleHandlers")
            {
                context = new WeakReference(AssemblyLoadContext.GetLoadContext(args.LoadedAssembly));
            }
        };
        AppDomain.CurrentDomain.AssemblyLoad += onLoad;
        try
        {
            Assert.Throws<HandlerLoadException>(() => HandlerLoader.Load(spec, 1));
        }
        finally
        {
            AppDomain.CurrentDomain.AssemblyLoad -= onLoad;
        }

        Assert.NotNull(context);
        return context;
    }
}
