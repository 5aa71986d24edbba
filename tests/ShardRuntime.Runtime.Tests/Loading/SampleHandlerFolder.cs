using ShardRuntime.Runtime.Loading;

namespace ShardRuntime.Runtime.Tests.Loading;

/// <summary>
/// A private copy of a built sample handler folder (fixtures/v1, v2, embedded-contract next to the tests, copied
/// there by the test project's build) in a temporary directory, so a test can overwrite or delete files freely.
/// </summary>
internal sealed class SampleHandlerFolder : IDisposable
{
    public const string GreetingFactory = "SampleHandlers.GreetingFactory";
    public const string GreetingHandler = "SampleHandlers.GreetingHandler";
    public const string ThrowingConstructorFactory = "SampleHandlers.ThrowingConstructorFactory";
    public const string ThrowingConstructorHandler = "SampleHandlers.ThrowingConstructorHandler";
    public const string ThrowingInitializeFactory = "SampleHandlers.ThrowingInitializeFactory";
    public const string ArgumentConstructorFactory = "SampleHandlers.ArgumentConstructorFactory";
    public const string NotAHandler = "SampleHandlers.NotAHandler";
    public const string ShoutDatagramFactory = "SampleHandlers.ShoutDatagramFactory";
    public const string ShoutDatagramHandler = "SampleHandlers.ShoutDatagramHandler";
    public const string EmbeddedContractFactory = "SampleHandlers.EmbeddedContract.EmbeddedContractFactory";

    public SampleHandlerFolder(string variant = "v1")
    {
        Folder = Path.Combine(Path.GetTempPath(), "shardruntime-loading-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Folder);
        CopyVariant(variant);
    }

    /// <summary>Where the built fixtures are, next to the test assembly.</summary>
    public static string FixturesRoot => Path.Combine(AppContext.BaseDirectory, "fixtures");

    public string Folder { get; }

    public string AssemblyPath => Path.Combine(Folder, "SampleHandlers.dll");

    public static string VariantAssemblyPath(string variant, string assembly = "SampleHandlers") =>
        Path.Combine(FixturesRoot, variant, assembly + ".dll");

    public HandlerAssemblySpec Spec(string typeName) => new(AssemblyPath, typeName);

    /// <summary>Copies another build's files over this folder's, as a build replacing the handler would.</summary>
    public void CopyVariant(string variant)
    {
        var source = Path.Combine(FixturesRoot, variant);
        Assert.True(Directory.Exists(source), $"The fixture '{source}' is missing: build tests/ShardRuntime.Runtime.Tests.");
        foreach (var file in Directory.GetFiles(source))
        {
            File.Copy(file, Path.Combine(Folder, Path.GetFileName(file)), overwrite: true);
        }
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temporary folder left behind is no test failure.
        }
    }
}
