namespace ShardRuntime.Actors.Settings;

/// <summary>
/// A setting under <c>shard-runtime</c> is missing or malformed. <see cref="Key"/> is the full HOCON path
/// of the offending key; the host adds the file it read it from.
/// </summary>
public sealed class ShardRuntimeConfigurationException : Exception
{
    public ShardRuntimeConfigurationException(string key, string problem, Exception? inner = null)
        : base($"Setting '{key}': {problem}", inner)
    {
        Key = key;
        Problem = problem;
    }

    /// <summary>Full HOCON path of the key, for example <c>shard-runtime.listeners.http.endpoint</c>.</summary>
    public string Key { get; }

    /// <summary>What is wrong with it, without the key.</summary>
    public string Problem { get; }
}
