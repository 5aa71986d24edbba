using Akka.Configuration;
using ShardRuntime.Actors.Cluster.Transport;
using ShardRuntime.Actors.Hosting;
using ShardRuntime.Actors.Settings;

namespace ShardRuntime.Host.Node;

/// <summary>
/// The HOCON a node runs on: the file named with <c>--config</c>, or the host's embedded copy of
/// config/hocon/shard-runtime.conf. Parsed and validated before anything starts, so that a bad file stops
/// start-up with a message naming the file and the key.
/// </summary>
/// <param name="Transport">How other processes reach the node's actors (no remoting for a lone node; TLS, or insecure when asked for).</param>
internal sealed record NodeConfig(Config Config, ShardRuntimeSettings Settings, string Source, ClusterTransport Transport)
{

    public const string EmbeddedName = "embedded config/hocon/shard-runtime.conf";

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
                text = File.ReadAllText(file.FullName);
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
        config = WithHostSockets(config);

        try
        {
            var settings = ShardRuntimeSettings.Create(config);
            var transport = ClusterTransport.Decide(settings.Cluster, config.GetStringList(ClusterTransport.SeedNodesKey, []).ToList());
            return new NodeConfig(config, settings, source, transport);
        }
        catch (ShardRuntimeConfigurationException e)
        {
            throw new NodeConfigException(source, e.Message);
        }
    }

    /// <summary>
    /// The host serves the control and handoff sockets (a library's actor system does not unless asked), on the
    /// well-known path the command-line tool looks at (<see cref="ControlSettings.DefaultSocketPath"/>) unless set;
    /// the file and the environment may still turn them off.
    /// </summary>
    private static Config WithHostSockets(Config config)
    {
        config = config.WithFallback(new ShardRuntimeOptions { EnableControlSocket = true, EnableHandoffSocket = true }.ToConfig());
        return config.GetString($"{ShardRuntimeSettings.Section}.control.socket-path", "") is { Length: > 0 }
            ? config
            : new ShardRuntimeOptions { ControlSocketPath = ControlSettings.DefaultSocketPath() }.ToConfig().WithFallback(config);
    }
}

/// <summary>The node's configuration is unusable; the message names the file and what is wrong.</summary>
internal sealed class NodeConfigException(string source, string problem) : Exception($"{source}: {problem}");
