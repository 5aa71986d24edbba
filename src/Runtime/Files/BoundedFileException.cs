namespace ShardRuntime.Runtime.Files;

/// <summary>An operator-named file that cannot be used, and why (<c>/srv/x.pem is a FIFO (named pipe), not a regular file</c>).</summary>
public sealed class BoundedFileException(string path, string problem) : IOException($"{path} {problem}")
{
    public string Path { get; } = path;

    /// <summary>What is wrong with it, without the path.</summary>
    public string Problem { get; } = problem;
}
