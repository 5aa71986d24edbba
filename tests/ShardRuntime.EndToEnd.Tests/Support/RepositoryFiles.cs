namespace ShardRuntime.EndToEnd.Tests.Support;

/// <summary>Files of the repository the tests were built from (found by walking up from the test binaries).</summary>
internal static class RepositoryFiles
{
    /// <summary>The directory holding ShardRuntime.sln.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The absolute path of <paramref name="relativePath"/> (with '/' separators) under <see cref="Root"/>.</summary>
    public static string PathOf(string relativePath) => Path.Combine(Root, relativePath);

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "ShardRuntime.sln")))
                return directory.FullName;
        }
        throw new DirectoryNotFoundException($"no directory above {AppContext.BaseDirectory} holds ShardRuntime.sln");
    }
}
