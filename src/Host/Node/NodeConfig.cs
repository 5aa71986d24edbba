using Akka.Configuration;
using ShardRuntime.Actors.Hosting;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Loading;

namespace ShardRuntime.Host.Node;

/// <summary>
/// The HOCON a node runs on: the file named with <c>--config</c>, or the host's embedded copy of
/// config/hocon/shard-runtime.conf. Parsed and validated before anything starts, so that a bad file stops
/// start-up with a message naming the file and the key.
/// </summary>
internal sealed record NodeConfig(Config Config, ShardRuntimeSettings Settings, string Source)
{

    public const string EmbeddedName = "embedded config/hocon/shard-runtime.conf";

    /// <summary>Largest config file read.</summary>
    private const long MaxSize = 16L * 1024 * 1024;

    /// <summary>
    /// A handler-assembly that is not a regular file (a FIFO, /dev/zero, a directory) or is too big is a configuration
    /// error, found without opening the file; the load checks again on what it opens.
    /// </summary>
    private static void CheckHandlerAssemblies(ShardRuntimeSettings settings)
    {
        foreach (var listener in settings.Listeners)
        {
            if (listener.HandlerAssembly is { } assembly && RegularFile.Check(assembly, RegularFile.MaxAssemblySize) is { } problem)
                throw new ShardRuntimeConfigurationException($"{ShardRuntimeSettings.Section}.listeners.{listener.Name}.handler-assembly", problem);
        }
    }

    public static NodeConfig Load(FileInfo? file, string? controlSocket = null)
    {
        string text, source;
        if (file is null)
        {
            using var stream = typeof(NodeConfig).Assembly.GetManifestResourceStream("ShardRuntime.Host.shard-runtime.conf")
                ?? throw new InvalidOperationException("the host was built without its embedded shard-runtime.conf");
            text = new StreamReader(stream).ReadToEnd();
            source = EmbeddedName;
        }
        else
        {
            source = file.FullName;
            try
            {
                // Never a blocking read (a FIFO) or a huge one (/dev/zero): a reload reads this on the coordinator's thread.
                using var reader = new StreamReader(new MemoryStream(RegularFile.Read(file.FullName, MaxSize, kind: "a configuration file")));
                text = reader.ReadToEnd();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new NodeConfigException(source, $"cannot be read: {e.Message}");
            }
        }

        if (HoconSyntax.FindError(text) is { } syntaxError)
            throw new NodeConfigException(source, $"is not valid HOCON: {syntaxError}");

        Config config;
        try
        {
            config = ConfigurationFactory.ParseString(text);
        }
        catch (Exception e)
        {
            throw new NodeConfigException(source, $"is not valid HOCON: {e.Message}");
        }

        // The environment (SHARDRUNTIME_*) overrides the file, and --control-socket overrides both.
        config = NodeEnvironment.Read().WithFallback(config);
        if (controlSocket is not null)
            config = new ShardRuntimeOptions { ControlSocketPath = controlSocket }.ToConfig().WithFallback(config);

        try
        {
            var settings = ShardRuntimeSettings.Create(config);
            CheckHandlerAssemblies(settings);
            return new NodeConfig(config, settings, source);
        }
        catch (ShardRuntimeConfigurationException e)
        {
            throw new NodeConfigException(source, e.Message);
        }
    }
}

/// <summary>The node's configuration is unusable; the message names the file and what is wrong.</summary>
internal sealed class NodeConfigException(string source, string problem) : Exception($"{source}: {problem}");
