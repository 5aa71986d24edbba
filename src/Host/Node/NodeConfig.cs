using Akka.Configuration;
using ShardRuntime.Actors.Cluster.Transport;
using ShardRuntime.Actors.Handlers;
using ShardRuntime.Actors.Hosting;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Loading;

namespace ShardRuntime.Host.Node;

/// <summary>
/// The HOCON a node runs on: the file named with <c>--config</c>, or the host's embedded copy of
/// config/hocon/shard-runtime.conf. Parsed and validated before anything starts, so that a bad file stops
/// start-up with a message naming the file and the key: malformed values, unknown keys (with the nearest valid one)
/// and handler names the host does not know.
/// </summary>
/// <param name="Transport">How other processes reach the node's actors (no remoting for a lone node; TLS, or insecure when asked for).</param>
internal sealed record NodeConfig(Config Config, ShardRuntimeSettings Settings, string Source, ClusterTransport Transport)
{

    public const string EmbeddedName = "embedded config/hocon/shard-runtime.conf";

    /// <summary>Largest config file read.</summary>
    private const long MaxSize = 16L * 1024 * 1024;

    /// <summary>The handlers a node of this host serves by name: the built-ins (the host adds none of its own).</summary>
    public static HandlerCatalog Handlers() => HandlerCatalog.WithBuiltIns();

    /// <summary>Reads, parses and validates the node's configuration; throws <see cref="NodeConfigException"/> listing every problem.</summary>
    public static NodeConfig Load(FileInfo? file, string? controlSocket = null)
    {
        var (config, source) = Parse(file, controlSocket);
        var check = Check(config);
        if (check.Problems.Count > 0)
            throw new NodeConfigException(source, new ShardRuntimeConfigurationException(check.Problems).Message);
        return new NodeConfig(config, check.Settings!, source, TransportOf(config, check.Settings!));
    }

    /// <summary>The settings check of <paramref name="config"/>, with the listeners' handler names checked against <see cref="Handlers"/>.</summary>
    public static ShardRuntimeSettingsCheck Check(Config config)
    {
        var check = ShardRuntimeSettings.Check(config);
        var problems = Handlers().FindUnknown(check.Listeners).ToList();
        // A handler-assembly that is not a regular file (a FIFO, /dev/zero, a directory) or is too big is a configuration
        // error, found without opening the file; the load checks again on what it opens.
        foreach (var listener in check.Listeners)
        {
            if (listener.HandlerAssembly is { } assembly && RegularFile.Check(assembly, RegularFile.MaxAssemblySize) is { } problem)
                problems.Add(new ShardRuntimeConfigurationException($"{ShardRuntimeSettings.Section}.listeners.{listener.Name}.handler-assembly", problem));
        }
        if (check.Settings is { } settings)
        {
            try
            {
                TransportOf(config, settings);
            }
            catch (ShardRuntimeConfigurationException e)
            {
                problems.Add(e);
            }
        }
        return problems.Count == 0 ? check : check with { Settings = null, Problems = [.. check.Problems, .. problems] };
    }

    /// <summary>The cluster's transport these settings and seed nodes call for (<see cref="ClusterTransport.Decide"/>).</summary>
    private static ClusterTransport TransportOf(Config config, ShardRuntimeSettings settings) =>
        ClusterTransport.Decide(settings.Cluster, config.GetStringList(ClusterTransport.SeedNodesKey, []).ToList());

    /// <summary>
    /// The node's HOCON: the file read and parsed (its syntax checked first), with the environment and
    /// <paramref name="controlSocket"/> over it; not yet validated. Throws <see cref="NodeConfigException"/> naming the file.
    /// </summary>
    public static (Config Config, string Source) Parse(FileInfo? file, string? controlSocket = null)
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
        config = WithHostSockets(config);

        return (config, source);
    }

    /// <summary>
    /// The host serves the control and upgrade sockets (a library's actor system does not unless asked), on the
    /// well-known path the command-line tool looks at (<see cref="ControlSettings.DefaultSocketPath"/>) unless set;
    /// the file and the environment may still turn them off.
    /// </summary>
    private static Config WithHostSockets(Config config)
    {
        config = config.WithFallback(new ShardRuntimeOptions { EnableControlSocket = true, EnableUpgradeSocket = true }.ToConfig());
        return config.GetString($"{ShardRuntimeSettings.Section}.control.socket-path", "") is { Length: > 0 }
            ? config
            : new ShardRuntimeOptions { ControlSocketPath = ControlSettings.DefaultSocketPath() }.ToConfig().WithFallback(config);
    }
}

/// <summary>The node's configuration is unusable; the message names the file and what is wrong.</summary>
internal sealed class NodeConfigException(string source, string problem) : Exception($"{source}: {problem}");
