using System.Net;
using Akka.Configuration;

namespace ShardRuntime.Actors.Settings;

/// <summary>All of <c>shard-runtime { }</c>, read once at start (and on reload) and validated as a whole.</summary>
public sealed record ShardRuntimeSettings(
    IReadOnlyList<ListenerSettings> Listeners,
    ControlSettings Control,
    TimeSpan ShutdownDrainTimeout,
    UpgradeSettings Upgrade,
    ClusterSettings Cluster,
    IPAddress? BindAddress,
    Config ListenerDefaults,
    int IoLoops,
    bool ActorsOnIoLoops,
    TimeSpan IoLoopHoldUpWarning,
    TimeSpan HandlerLoadTimeout,
    IReadOnlyList<string> HandlerDirectories)
{
    public const string Section = "shard-runtime";

    /// <summary>
    /// Reads the settings from a full config (the actor system's, or any config that has the
    /// <c>shard-runtime</c> section); the embedded reference.conf is the fallback for every default.
    /// Throws <see cref="ShardRuntimeConfigurationException"/> naming the first bad key.
    /// </summary>
    public static ShardRuntimeSettings Create(Config config)
    {
        var root = config.WithFallback(ReferenceConfig.Default);
        var section = root.GetConfig(Section)
            ?? throw new ShardRuntimeConfigurationException(Section, "section is missing");
        var defaults = section.GetConfig("listener-defaults")
            ?? throw new ShardRuntimeConfigurationException($"{Section}.listener-defaults", "is missing");

        var bindAddress = ReadBindAddress(section);
        var listeners = new List<ListenerSettings>();
        var listenersConfig = section.GetConfig("listeners");
        if (listenersConfig is not null && !listenersConfig.IsEmpty)
        {
            foreach (var (name, value) in listenersConfig.AsEnumerable().Select(kv => (kv.Key, kv.Value)).DistinctBy(kv => kv.Key))
            {
                var path = $"{Section}.listeners.{name}";
                if (!value.IsObject())
                    throw new ShardRuntimeConfigurationException(path, "must be a block such as { endpoint = \"127.0.0.1:8080\", handler = http-ok }");
                listeners.Add(ReadListener(name, listenersConfig.GetConfig(name), defaults, bindAddress, path));
            }
        }

        // Port 0 asks the kernel for a fresh port per listener, so only fixed ports can collide.
        var duplicate = listeners.Where(l => l.EndPoint.Port != 0).GroupBy(l => (l.EndPoint, l.Protocol)).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new ShardRuntimeConfigurationException($"{Section}.listeners.{duplicate.Skip(1).First().Name}.endpoint",
                $"{duplicate.Key.EndPoint} is already used by listener '{duplicate.First().Name}'");

        var shutdown = new ConfigReader(section.GetConfig("shutdown") ?? Config.Empty, $"{Section}.shutdown");
        var drainTimeout = shutdown.GetDuration("drain-timeout", TimeSpan.Zero);
        var phase = new ConfigReader(root, "");
        const string phaseKey = "akka.coordinated-shutdown.phases.service-unbind.timeout";
        var phaseTimeout = phase.GetDuration(phaseKey, TimeSpan.Zero);
        if (phaseTimeout <= drainTimeout)
            throw new ShardRuntimeConfigurationException($"{Section}.shutdown.drain-timeout",
                $"{drainTimeout} must be shorter than {phaseKey} ({phaseTimeout}), or the drain is cut short");
        var control = ControlSettings.Create(section.GetConfig("control") ?? Config.Empty, $"{Section}.control");
        var upgrade = UpgradeSettings.Create(section.GetConfig("upgrade") ?? Config.Empty, $"{Section}.upgrade", control);
        var cluster = ClusterSettings.Create(section.GetConfig("cluster") ?? Config.Empty, $"{Section}.cluster");
        var io = new ConfigReader(section, Section);
        var ioLoops = io.GetInt("io-loops", 0, Runtime.Sockets.Readiness.ReadinessEngine.MaxLoops);
        return new ShardRuntimeSettings(
            Listeners: listeners,
            Control: control with
            {
                UpgradeAnswerTimeout = upgrade.AnswerTimeout,
                ReloadAnswerTimeout = cluster.ReloadTimeout + control.RequestTimeout,
                ClusterChangeAnswerTimeout = cluster.WriteTimeout + cluster.WriteTimeout + control.RequestTimeout,
            },
            ShutdownDrainTimeout: drainTimeout,
            Upgrade: upgrade,
            Cluster: cluster,
            BindAddress: bindAddress,
            ListenerDefaults: defaults,
            IoLoops: ioLoops == 0 ? Math.Min(Environment.ProcessorCount, Runtime.Sockets.Readiness.ReadinessEngine.MaxLoops) : ioLoops,
            ActorsOnIoLoops: io.GetBool("actors-on-io-loops"),
            IoLoopHoldUpWarning: io.GetDuration("io-loop-hold-up-warning", TimeSpan.FromMilliseconds(10)),
            HandlerLoadTimeout: io.GetDuration("handler-load-timeout", TimeSpan.FromMilliseconds(10)),
            HandlerDirectories: ReadHandlerDirectories(section));
    }

    /// <summary>
    /// Reads a listener that is not in this node's file (one the cluster's desired state defines, as a HOCON block) the
    /// way the file's listeners are read: over this node's listener-defaults, on its bind-address. Throws
    /// <see cref="ShardRuntimeConfigurationException"/> naming the key at fault (under <paramref name="path"/>).
    /// </summary>
    public ListenerSettings ReadListener(string name, Config block, string path) =>
        ReadListener(name, block, ListenerDefaults, BindAddress, path);

    private static ListenerSettings ReadListener(string name, Config block, Config defaults, IPAddress? bindAddress, string path)
    {
        var listener = ListenerSettings.Create(name, block, defaults, path);
        return bindAddress is null ? listener : listener with { EndPoint = new IPEndPoint(bindAddress, listener.EndPoint.Port) };
    }

    private static List<string> ReadHandlerDirectories(Config section)
    {
        const string key = $"{Section}.handler-directories";
        IList<string> raw;
        try
        {
            raw = section.GetStringList("handler-directories", []);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new ShardRuntimeConfigurationException(key, $"must be a list of absolute directory paths such as [\"/opt/shardruntime/handlers\"]: {e.Message}");
        }
        var directories = new List<string>();
        foreach (var directory in raw)
        {
            if (string.IsNullOrWhiteSpace(directory) || !Path.IsPathFullyQualified(directory))
                throw new ShardRuntimeConfigurationException(key, $"'{directory}' is not an absolute directory path");
            directories.Add(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)) is { Length: > 0 } full ? full : "/");
        }
        return directories;
    }

    private static IPAddress? ReadBindAddress(Config section)
    {
        var raw = new ConfigReader(section, Section).GetString("bind-address", allowEmpty: true).Trim();
        if (raw.Length == 0) return null;
        return IPAddress.TryParse(raw.Trim('[', ']'), out var address)
            ? address
            : throw new ShardRuntimeConfigurationException($"{Section}.bind-address", $"expected an IP address such as 127.0.0.12, 0.0.0.0 or ::, got '{raw}'");
    }
}
