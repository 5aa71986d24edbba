using Akka.Configuration;

namespace ShardRuntime.Actors.Settings;

/// <summary>The embedded reference.conf: every default of <c>shard-runtime</c>, and the only place defaults live.</summary>
public static class ReferenceConfig
{
    private static readonly Lazy<Config> Lazy = new(() =>
    {
        using var stream = typeof(ReferenceConfig).Assembly.GetManifestResourceStream("ShardRuntime.Actors.reference.conf")
            ?? throw new InvalidOperationException("embedded reference.conf is missing from ShardRuntime.Actors");
        using var reader = new StreamReader(stream);
        return ConfigurationFactory.ParseString(reader.ReadToEnd());
    });

    /// <summary>The parsed reference configuration.</summary>
    public static Config Default => Lazy.Value;
}
