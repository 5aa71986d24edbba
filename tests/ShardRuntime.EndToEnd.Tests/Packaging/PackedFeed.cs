using System.Diagnostics;
using System.IO.Compression;
using System.Reflection;
using System.Xml.Linq;
using ShardRuntime.EndToEnd.Tests.Support;

namespace ShardRuntime.EndToEnd.Tests.Packaging;

/// <summary>
/// The repository's packages (ShardRuntime.Packages.slnf) packed once into a local feed in a temporary directory, under a
/// version of their own (so no package cache holds another build under it). Packed from the assemblies this test
/// project's build already built (<c>--no-build</c>, the same configuration: the test project references the host,
/// which references both libraries, and builds the TestKit), which keeps the spec to about a minute: a Release build of the three projects
/// would take one to two minutes more on a loaded 2-core machine. Disposing deletes the directory, the version's
/// copies in the global packages folder and the nuspec files pack left in the projects' obj directories.
/// </summary>
public sealed class PackedFeed : IDisposable
{
    /// <summary>The bound of <c>dotnet pack</c> on a loaded machine.</summary>
    public static readonly TimeSpan PackTimeout = TimeSpan.FromMinutes(4);

    /// <summary>The configuration this test project was built in, and with it the libraries and the host.</summary>
    public static readonly string Configuration = typeof(PackedFeed).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "Configuration").Value!;

    /// <summary>The projects ShardRuntime.Packages.slnf packs (paths relative to the repository, with '/').</summary>
    public static readonly IReadOnlyList<string> Projects = ReadSolutionFilter();

    /// <summary>The tool's package id (lower case, as its command).</summary>
    public const string ToolId = "shardruntime";

    /// <summary>The library packages: every packed project but the host, each named as its project file.</summary>
    public static readonly IReadOnlyList<string> Libraries = Projects.Where(p => p != "src/Host/ShardRuntime.Host.csproj")
        .Select(Path.GetFileNameWithoutExtension).ToList()!;

    /// <summary>The package ids the feed must hold.</summary>
    public static readonly IReadOnlyList<string> PackageIds = [.. Libraries, ToolId];

    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("shardruntime-packages-");

    /// <summary>Packs the packages; throws with the output when <c>dotnet pack</c> fails.</summary>
    public PackedFeed()
    {
        Version = $"0.0.0-ci.{Guid.NewGuid():N}";
        Feed = Path.Combine(_directory.FullName, "feed");
        var stopwatch = Stopwatch.StartNew();
        PackResult = Dotnet.RunAsync(RepositoryFiles.Root, PackTimeout,
            "pack", RepositoryFiles.PathOf("ShardRuntime.Packages.slnf"), "-c", Configuration, "--no-build", "-o", Feed,
            $"-p:Version={Version}", "--disable-build-servers").GetAwaiter().GetResult();
        PackTime = stopwatch.Elapsed;
    }

    /// <summary>The version every package got.</summary>
    public string Version { get; }

    /// <summary>The local feed: a directory of .nupkg files.</summary>
    public string Feed { get; }

    /// <summary>What <c>dotnet pack</c> said.</summary>
    internal CliResult PackResult { get; }

    /// <summary>How long packing took.</summary>
    public TimeSpan PackTime { get; }

    /// <summary>A new empty directory under the feed's temporary directory.</summary>
    public string NewDirectory(string name) => Directory.CreateDirectory(Path.Combine(_directory.FullName, name)).FullName;

    /// <summary>The path of package <paramref name="id"/> in the feed.</summary>
    public string PackagePath(string id) => Path.Combine(Feed, $"{id}.{Version}.nupkg");

    /// <summary>The nuspec inside package <paramref name="id"/>.</summary>
    public XDocument Nuspec(string id)
    {
        using var zip = ZipFile.OpenRead(PackagePath(id));
        var entry = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal) && !e.FullName.Contains('/'));
        using var stream = entry.Open();
        return XDocument.Load(stream);
    }

    /// <summary>The paths of the files inside package <paramref name="id"/>.</summary>
    public IReadOnlyList<string> Files(string id)
    {
        using var zip = ZipFile.OpenRead(PackagePath(id));
        return zip.Entries.Select(e => e.FullName).ToList();
    }

    /// <summary>
    /// Writes a NuGet.config into <paramref name="directory"/> that adds the feed to the sources the user's own
    /// configuration already has (the package registry Akka.NET and the rest come from).
    /// </summary>
    public void WriteNuGetConfig(string directory) =>
        File.WriteAllText(Path.Combine(directory, "NuGet.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="shardruntime-local" value="{Feed}" />
              </packageSources>
            </configuration>
            """);

    private static List<string> ReadSolutionFilter()
    {
        using var filter = System.Text.Json.JsonDocument.Parse(File.ReadAllText(RepositoryFiles.PathOf("ShardRuntime.Packages.slnf")));
        return filter.RootElement.GetProperty("solution").GetProperty("projects").EnumerateArray()
            .Select(p => p.GetString()!.Replace('\\', '/')).ToList();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _directory.Delete(recursive: true);
        var globalPackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (var id in PackageIds)
        {
            var copy = new DirectoryInfo(Path.Combine(globalPackages, id.ToLowerInvariant(), Version));
            if (copy.Exists) copy.Delete(recursive: true);
        }
        foreach (var project in Projects)
        {
            var obj = new DirectoryInfo(Path.Combine(Path.GetDirectoryName(RepositoryFiles.PathOf(project))!, "obj", Configuration));
            if (!obj.Exists) continue;
            foreach (var nuspec in obj.EnumerateFiles($"*.{Version}.nuspec"))
                nuspec.Delete();
        }
    }
}
