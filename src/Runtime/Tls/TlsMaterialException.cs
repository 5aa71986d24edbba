namespace ShardRuntime.Runtime.Tls;

/// <summary>
/// A TLS listener's files cannot serve: a file is missing, not a regular file, unreadable, not PEM, or the key does not
/// belong to the certificate. <see cref="Key"/> is the full key of the setting that names the file, and the message names
/// the file too. A reload that meets this keeps the material loaded before.
/// </summary>
public sealed class TlsMaterialException : Exception
{
    /// <summary>Creates the exception for the setting <paramref name="key"/> (its full key) with what is wrong.</summary>
    public TlsMaterialException(string key, string problem, Exception? innerException = null)
        : base($"{key}: {problem}", innerException)
    {
        Key = key;
        Problem = problem;
    }

    /// <summary>The full key of the setting naming the file, e.g. <c>shard-runtime.listeners.web.tls.certificate</c>.</summary>
    public string Key { get; }

    /// <summary>What is wrong, naming the file.</summary>
    public string Problem { get; }
}
