namespace ShardRuntime.Actors.Settings;

/// <summary>
/// A setting under <c>shard-runtime</c> is missing, malformed or unknown. <see cref="Key"/> is the full HOCON path
/// of the offending key; the host adds the file it read it from. When a configuration has several problems, one
/// exception carries them all (<see cref="Problems"/>), and <see cref="Key"/> and <see cref="Problem"/> are the first's.
/// </summary>
public sealed class ShardRuntimeConfigurationException : Exception
{
    /// <summary>A setting <paramref name="key"/> that is wrong, and what is wrong with it.</summary>
    public ShardRuntimeConfigurationException(string key, string problem, Exception? inner = null)
        : base(Describe(key, problem), inner)
    {
        Key = key;
        Problem = problem;
        Problems = [this];
    }

    /// <summary>All of <paramref name="problems"/> (at least one) as one exception.</summary>
    public ShardRuntimeConfigurationException(IReadOnlyList<ShardRuntimeConfigurationException> problems)
        : base(problems.Count == 1
            ? problems[0].Message
            : $"{problems.Count} problems: {string.Join("; ", problems.SelectMany(p => p.Problems).Select(p => p.Message))}",
            problems[0].InnerException)
    {
        Key = problems[0].Key;
        Problem = problems[0].Problem;
        Problems = problems.SelectMany(p => p.Problems).ToList();
    }

    /// <summary>Full HOCON path of the key, for example <c>shard-runtime.listeners.http.endpoint</c>.</summary>
    public string Key { get; }

    /// <summary>What is wrong with it, without the key.</summary>
    public string Problem { get; }

    /// <summary>Every problem found, each naming its key; just this one when it stands alone.</summary>
    public IReadOnlyList<ShardRuntimeConfigurationException> Problems { get; }

    private static string Describe(string key, string problem) => $"Setting '{key}': {problem}";
}
