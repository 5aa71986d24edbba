using System.Text.Json;
using System.Xml.Linq;
using ShardRuntime.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests.Packaging;

/// <summary>
/// The packages as a user gets them (README "Packages"): packed into a local feed (see <see cref="PackedFeed"/>), the sample samples/HelloShard built
/// against them (not against the projects) and run, its tests (samples/HelloShard.Tests, on ShardRuntime.TestKit) run
/// against them as they are and in a project made by the default <c>dotnet new xunit</c> template, and the
/// shardruntime tool installed from the feed and run.
/// </summary>
public sealed class PackageSpecs(PackedFeed feed, ITestOutputHelper output) : IClassFixture<PackedFeed>
{
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(4);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(1);

    [Fact]
    public void Packages_must_carry_readme_license_docs_the_platform_and_package_dependencies_at_the_pinned_versions()
    {
        Assert.True(feed.PackResult.ExitCode == 0, feed.PackResult.ToString());
        output.WriteLine($"dotnet pack: {feed.PackTime.TotalSeconds:F0}s");

        foreach (var id in PackedFeed.PackageIds)
        {
            var metadata = Metadata(feed.Nuspec(id));
            Assert.Equal(id, metadata.Element(Nu(metadata, "id"))?.Value);
            Assert.Equal(feed.Version, metadata.Element(Nu(metadata, "version"))?.Value);
            Assert.Equal("Apache-2.0", metadata.Element(Nu(metadata, "license"))?.Value);
            Assert.Equal("README.md", metadata.Element(Nu(metadata, "readme"))?.Value);
            Assert.Equal("ShardRuntime contributors", metadata.Element(Nu(metadata, "authors"))?.Value);
            Assert.False(string.IsNullOrWhiteSpace(metadata.Element(Nu(metadata, "description"))?.Value), id);
            var files = feed.Files(id);
            Assert.Contains("README.md", files);
            Assert.Contains("LICENSE", files);
        }

        Assert.Equal(PackedFeed.PackageIds.Select(id => $"{id}.{feed.Version}.nupkg").Order(StringComparer.Ordinal),
            Directory.GetFiles(feed.Feed).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        foreach (var library in PackedFeed.Libraries)
        {
            var files = feed.Files(library);
            Assert.Contains($"lib/net10.0/{library}.dll", files);
            Assert.Contains($"lib/net10.0/{library}.xml", files);
            Assert.Contains($"buildTransitive/{library}.targets", files);
        }

        // ShardRuntime.Actors depends on the ShardRuntime.Runtime package of the same version and on Akka.NET at the
        // versions Directory.Packages.props pins.
        var dependencies = Dependencies(feed.Nuspec("ShardRuntime.Actors"));
        Assert.Equal(feed.Version, dependencies["ShardRuntime.Runtime"]);
        var pinned = PinnedVersions();
        foreach (var akka in new[] { "Akka", "Akka.Hosting", "Akka.Cluster", "Akka.DistributedData" })
            Assert.Equal(pinned[akka], dependencies[akka]);
        Assert.Empty(Dependencies(feed.Nuspec("ShardRuntime.Runtime")));
        // ShardRuntime.TestKit: on ShardRuntime.Actors of the same version and Akka.TestKit.Xunit2 (xunit v2, as the
        // default template), never on Akka.Hosting.TestKit (xunit v3: CS0433 in a v2 project).
        var testKit = Dependencies(feed.Nuspec("ShardRuntime.TestKit"));
        Assert.Equal(feed.Version, testKit["ShardRuntime.Actors"]);
        Assert.Equal(pinned["Akka.TestKit.Xunit2"], testKit["Akka.TestKit.Xunit2"]);
        Assert.DoesNotContain("Akka.Hosting.TestKit", testKit.Keys);

        // ShardRuntime.AspNetCore: on ShardRuntime.Actors of the same version, and on the ASP.NET Core shared framework
        // (a framework reference, not packages).
        Assert.Equal(feed.Version, Dependencies(feed.Nuspec("ShardRuntime.AspNetCore"))["ShardRuntime.Actors"]);
        Assert.Contains("Microsoft.AspNetCore.App", feed.Nuspec("ShardRuntime.AspNetCore").ToString());

        // The tool carries its own dependencies and the default configuration it falls back on.
        var tool = feed.Files("shardruntime");
        Assert.Contains("tools/net10.0/any/shardruntime.dll", tool);
        Assert.Contains("tools/net10.0/any/DotnetToolSettings.xml", tool);
        Assert.Contains("tools/net10.0/any/ShardRuntime.Actors.dll", tool);
    }

    [Fact]
    public async Task The_sample_must_build_against_the_packages_without_CA1416_and_serve_one_request_on_its_own()
    {
        Assert.True(feed.PackResult.ExitCode == 0, feed.PackResult.ToString());
        var consumer = Path.Combine(CopySample("consumer"), "HelloShard");

        var build = await Dotnet.RunAsync(consumer, BuildTimeout, "build", $"-p:ShardRuntimeVersion={feed.Version}", "--disable-build-servers");
        Assert.True(build.ExitCode == 0, build.ToString());
        Assert.DoesNotContain("CA1416", build.StdOut);
        Assert.Contains(" 0 Warning(s)", build.StdOut);

        AssertRestoredAsPackages(consumer, "ShardRuntime.Actors", "ShardRuntime.Runtime");

        var run = await Dotnet.RunAsync(consumer, RunTimeout, Path.Combine(consumer, "bin", "Debug", "net10.0", "HelloShard.dll"));
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("upper: 127.0.0.1:", run.StdOut);
        Assert.Contains(", 4 sockets", run.StdOut);
        Assert.Contains("HELLO, SHARD", run.StdOut);
    }

    [Fact]
    public async Task Without_the_packages_platform_declaration_the_sample_must_get_CA1416()
    {
        // The check above can fail: the same sample with the packages' declaration turned off gets the warnings a
        // user got before (made errors by the sample's TreatWarningsAsErrors).
        Assert.True(feed.PackResult.ExitCode == 0, feed.PackResult.ToString());
        var consumer = Path.Combine(CopySample("consumer-undeclared"), "HelloShard");

        var build = await Dotnet.RunAsync(consumer, BuildTimeout, "build", $"-p:ShardRuntimeVersion={feed.Version}",
            "-p:ShardRuntimeDeclareLinuxPlatform=false", "--disable-build-servers");
        Assert.NotEqual(0, build.ExitCode);
        Assert.Contains("CA1416", build.StdOut);
        Assert.Contains("'ShardRuntimeHostingExtensions.WithShardRuntime(AkkaConfigurationBuilder, Action<ShardRuntimeOptions>)' is only supported on: 'linux'", build.StdOut);
    }

    [Fact]
    public async Task The_samples_tests_must_pass_on_the_TestKit_package()
    {
        Assert.True(feed.PackResult.ExitCode == 0, feed.PackResult.ToString());
        var tests = Path.Combine(CopySample("consumer-tests"), "HelloShard.Tests");

        var test = await Dotnet.RunAsync(tests, BuildTimeout, "test", $"-p:ShardRuntimeVersion={feed.Version}", "--disable-build-servers");

        Assert.True(test.ExitCode == 0, test.ToString());
        Assert.Matches(@"Passed!\s+- Failed:\s+0, Passed:\s+2,", test.StdOut);
        AssertRestoredAsPackages(tests, "ShardRuntime.TestKit", "ShardRuntime.Actors", "ShardRuntime.Runtime");
    }

    [Fact]
    public async Task A_project_from_the_default_xunit_template_must_run_the_samples_tests_on_the_TestKit_package()
    {
        // The template of the SDK that runs this (xunit v2 today), not a copy of it: Akka.Hosting.TestKit, which needs
        // xunit v3, broke such a project with CS0433.
        Assert.True(feed.PackResult.ExitCode == 0, feed.PackResult.ToString());
        var consumer = CopySample("consumer-template");
        var created = await Dotnet.RunAsync(consumer, BuildTimeout, "new", "xunit", "--name", "TemplateTests", "--no-restore");
        Assert.True(created.ExitCode == 0, created.ToString());
        var project = Path.Combine(consumer, "TemplateTests");
        File.Delete(Path.Combine(project, "UnitTest1.cs"));
        foreach (var file in Directory.GetFiles(Path.Combine(consumer, "HelloShard.Tests"), "*.cs"))
            File.Copy(file, Path.Combine(project, Path.GetFileName(file)));

        foreach (var args in new[]
        {
            new[] { "add", "package", "ShardRuntime.TestKit", "--version", feed.Version },
            ["add", "reference", Path.Combine("..", "HelloShard", "HelloShard.csproj")],
        })
        {
            var added = await Dotnet.RunAsync(project, BuildTimeout, args);
            Assert.True(added.ExitCode == 0, added.ToString());
        }
        var test = await Dotnet.RunAsync(project, BuildTimeout, "test", $"-p:ShardRuntimeVersion={feed.Version}", "--disable-build-servers");

        Assert.True(test.ExitCode == 0, test.ToString());
        Assert.DoesNotContain("CS0433", test.StdOut);
        Assert.Matches(@"Passed!\s+- Failed:\s+0, Passed:\s+2,", test.StdOut);
        using var assets = JsonDocument.Parse(File.ReadAllText(Path.Combine(project, "obj", "project.assets.json")));
        Assert.StartsWith("2.", assets.RootElement.GetProperty("project").GetProperty("frameworks").GetProperty("net10.0")
            .GetProperty("dependencies").GetProperty("xunit").GetProperty("version").GetString()!.TrimStart('['));
    }

    [Fact]
    public async Task The_tool_must_install_from_the_feed_and_run_with_its_embedded_configuration()
    {
        Assert.True(feed.PackResult.ExitCode == 0, feed.PackResult.ToString());
        var tools = feed.NewDirectory("tools");

        var install = await Dotnet.RunAsync(tools, BuildTimeout,
            "tool", "install", "--tool-path", tools, "--add-source", feed.Feed, "shardruntime", "--version", feed.Version);
        Assert.True(install.ExitCode == 0, install.ToString());
        var shardruntime = Path.Combine(tools, "shardruntime");

        var help = await Dotnet.RunProgramAsync(shardruntime, tools, RunTimeout, "--help");
        Assert.True(help.ExitCode == 0, help.ToString());
        Assert.Contains("Usage:", help.StdOut);
        Assert.Contains("upgrade", help.StdOut);

        // Without --config, check reads the configuration embedded in the executable (ports 8080 and 7000 may be held on
        // a shared machine: then it lists that as a problem of the same embedded file, exit 2).
        var check = await Dotnet.RunProgramAsync(shardruntime, tools, RunTimeout, "check");
        Assert.True(check.ExitCode is 0 or 2, check.ToString());
        Assert.Contains("embedded config/hocon/shard-runtime.conf", check.StdOut + check.StdErr);
        if (check.ExitCode == 0)
            Assert.Matches(@"embedded config/hocon/shard-runtime\.conf: ok, [1-9][0-9]* listener\(s\)", check.StdOut);
    }

    [Fact]
    public void Every_project_under_src_must_be_packed()
    {
        // A new library (the TestKit, the ASP.NET Core transport) becomes a package by being listed in the filter.
        var projects = Directory.GetFiles(RepositoryFiles.PathOf("src"), "*.csproj", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(RepositoryFiles.Root, p).Replace('\\', '/'));
        Assert.Equal(projects.Order(StringComparer.Ordinal), PackedFeed.Projects.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void The_README_must_show_every_file_of_the_samples_exactly()
    {
        var readme = File.ReadAllText(RepositoryFiles.PathOf("README.md"));
        var files = SampleFiles("*.cs");
        Assert.Contains("samples/HelloShard/Program.cs", files);
        Assert.Contains("samples/HelloShard.Tests/UpperCaseHandlerTests.cs", files);
        foreach (var file in files)
            Assert.True(readme.Contains("```csharp\n" + File.ReadAllText(RepositoryFiles.PathOf(file)) + "```\n", StringComparison.Ordinal),
                $"README.md does not show {file} as it is (a ```csharp block with the whole file)");
    }

    /// <summary>
    /// The samples (samples/HelloShard and samples/HelloShard.Tests, which references it) in a new directory outside the
    /// repository, side by side as in samples/, with the feed as a source.
    /// </summary>
    private string CopySample(string name)
    {
        var directory = feed.NewDirectory(name);
        foreach (var file in SampleFiles("*.cs*"))
        {
            var copy = Path.Combine(directory, file["samples/".Length..]);
            Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            File.Copy(RepositoryFiles.PathOf(file), copy);
        }
        feed.WriteNuGetConfig(directory);
        return directory;
    }

    /// <summary>The files of the sample projects matching <paramref name="pattern"/>, relative to the repository (bin and obj left out).</summary>
    private static List<string> SampleFiles(string pattern) =>
        Directory.GetFiles(RepositoryFiles.PathOf("samples"), pattern, SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(RepositoryFiles.Root, f).Replace('\\', '/'))
            .Where(f => !f.Contains("/bin/", StringComparison.Ordinal) && !f.Contains("/obj/", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).ToList();

    /// <summary>Restored from the packages: the project's assets name <paramref name="libraries"/> as packages of this feed's version.</summary>
    private void AssertRestoredAsPackages(string project, params string[] libraries)
    {
        using var assets = JsonDocument.Parse(File.ReadAllText(Path.Combine(project, "obj", "project.assets.json")));
        var restored = assets.RootElement.GetProperty("libraries");
        foreach (var library in libraries)
            Assert.Equal("package", restored.GetProperty($"{library}/{feed.Version}").GetProperty("type").GetString());
    }

    private static XElement Metadata(XDocument nuspec) =>
        nuspec.Root!.Elements().Single(e => e.Name.LocalName == "metadata");

    private static XName Nu(XElement metadata, string name) => metadata.Name.Namespace + name;

    /// <summary>The nuspec's dependencies (of every group): id to version.</summary>
    private static Dictionary<string, string> Dependencies(XDocument nuspec) =>
        nuspec.Descendants().Where(e => e.Name.LocalName == "dependency")
            .ToDictionary(e => (string)e.Attribute("id")!, e => (string)e.Attribute("version")!);

    /// <summary>Directory.Packages.props: package id to pinned version.</summary>
    private static Dictionary<string, string> PinnedVersions() =>
        XDocument.Load(RepositoryFiles.PathOf("Directory.Packages.props")).Descendants("PackageVersion")
            .ToDictionary(e => (string)e.Attribute("Include")!, e => (string)e.Attribute("Version")!);
}
