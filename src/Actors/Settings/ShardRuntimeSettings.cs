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
    IReadOnlyList<string> HandlerDirectories,
    TimeSpan StartTimeout)
{
    public const string Section = "shard-runtime";

    /// <summary>
    /// Reads the settings from a full config (the actor system's, or any config that has the
    /// <c>shard-runtime</c> section); the embedded reference.conf is the fallback for every default.
    /// Throws <see cref="ShardRuntimeConfigurationException"/> naming the first bad key and carrying every problem
    /// that <see cref="Check"/> finds: unknown keys (with the nearest valid ones) as well as malformed values.
    /// </summary>
    public static ShardRuntimeSettings Create(Config config)
    {
        var check = Check(config);
        return check.Settings ?? throw new ShardRuntimeConfigurationException(check.Problems);
    }

    /// <summary>
    /// Reads the settings as <see cref="Create"/> does, but lists every problem instead of throwing: each unknown key,
    /// and the first malformed value of each listener and of each other section. The listeners that could be read
    /// are in the result even when something else is wrong.
    /// </summary>
    public static ShardRuntimeSettingsCheck Check(Config config)
    {
        var keys = ConfigKeys.Find(config).Select(k => new ShardRuntimeConfigurationException(k.Key, k.Text)).ToList();
        var values = new List<ShardRuntimeConfigurationException>();
        var listeners = new List<ListenerSettings>();
        ShardRuntimeSettingsCheck Result(ShardRuntimeSettings? settings)
        {
            // A key that is unknown (a block where a value belongs, ...) is reported as that, not again as malformed.
            var problems = keys.Concat(values.Where(v => keys.All(k => k.Key != v.Key))).ToList();
            return new ShardRuntimeSettingsCheck(problems.Count == 0 ? settings : null, listeners, problems);
        }
        bool Try(string key, Action read)
        {
            try
            {
                read();
                return true;
            }
            catch (ShardRuntimeConfigurationException e)
            {
                values.Add(e);
            }
            catch (Exception e) when (e is ConfigurationException or FormatException or InvalidCastException or ArgumentException)
            {
                values.Add(new ShardRuntimeConfigurationException(key, e.Message, e));
            }
            return false;
        }

        var root = config.WithFallback(ReferenceConfig.Default);
        Config section = Config.Empty, defaults = Config.Empty;
        if (!Try(Section, () => section = root.GetConfig(Section) ?? throw new ShardRuntimeConfigurationException(Section, "section is missing"))
            || !Try($"{Section}.listener-defaults", () => defaults = section.GetConfig("listener-defaults")
                ?? throw new ShardRuntimeConfigurationException($"{Section}.listener-defaults", "is missing")))
            return Result(null);

        IPAddress? bindAddress = null;
        Try($"{Section}.bind-address", () => bindAddress = ReadBindAddress(section));
        var listenersConfig = section.GetConfig("listeners");
        if (listenersConfig is not null && !listenersConfig.IsEmpty)
        {
            foreach (var (name, value) in listenersConfig.AsEnumerable().Select(kv => (kv.Key, kv.Value)).DistinctBy(kv => kv.Key))
            {
                var path = $"{Section}.listeners.{name}";
                Try(path, () => listeners.Add(value.IsObject()
                    ? ReadListener(name, listenersConfig.GetConfig(name), defaults, bindAddress, path)
                    : throw new ShardRuntimeConfigurationException(path, "must be a block such as { endpoint = \"127.0.0.1:8080\", handler = http-ok }")));
            }
        }

        // Port 0 asks the kernel for a fresh port per listener, so only fixed ports can collide.
        foreach (var shared in listeners.Where(l => l.EndPoint.Port != 0).GroupBy(l => (l.EndPoint, l.Protocol)).Where(g => g.Count() > 1))
            values.Add(new ShardRuntimeConfigurationException($"{Section}.listeners.{shared.Skip(1).First().Name}.endpoint",
                $"{shared.Key.EndPoint} is already used by listener '{shared.First().Name}'"));

        var drainTimeout = TimeSpan.Zero;
        Try($"{Section}.shutdown", () =>
        {
            var shutdown = new ConfigReader(section.GetConfig("shutdown") ?? Config.Empty, $"{Section}.shutdown");
            drainTimeout = shutdown.GetDuration("drain-timeout", TimeSpan.Zero);
            const string phaseKey = "akka.coordinated-shutdown.phases.service-unbind.timeout";
            var phaseTimeout = new ConfigReader(root, "").GetDuration(phaseKey, TimeSpan.Zero);
            if (phaseTimeout <= drainTimeout)
                throw new ShardRuntimeConfigurationException($"{Section}.shutdown.drain-timeout",
                    $"{drainTimeout} must be shorter than {phaseKey} ({phaseTimeout}), or the drain is cut short");
        });
        ControlSettings? control = null;
        UpgradeSettings? upgrade = null;
        ClusterSettings? cluster = null;
        if (Try($"{Section}.control", () => control = ControlSettings.Create(section.GetConfig("control") ?? Config.Empty, $"{Section}.control")))
            Try($"{Section}.upgrade", () => upgrade = UpgradeSettings.Create(section.GetConfig("upgrade") ?? Config.Empty, $"{Section}.upgrade", control!));
        Try($"{Section}.cluster", () => cluster = ClusterSettings.Create(section.GetConfig("cluster") ?? Config.Empty, $"{Section}.cluster"));
        var io = new ConfigReader(section, Section);
        var (ioLoops, actorsOnIoLoops, holdUpWarning) = (0, false, TimeSpan.Zero);
        Try($"{Section}.io-loops", () => ioLoops = io.GetInt("io-loops", 0, Runtime.Sockets.Readiness.ReadinessEngine.MaxLoops));
        Try($"{Section}.actors-on-io-loops", () => actorsOnIoLoops = io.GetBool("actors-on-io-loops"));
        Try($"{Section}.io-loop-hold-up-warning", () => holdUpWarning = io.GetDuration("io-loop-hold-up-warning", TimeSpan.FromMilliseconds(10)));
        var (handlerLoadTimeout, handlerDirectories) = (TimeSpan.Zero, (IReadOnlyList<string>)[]);
        Try($"{Section}.handler-load-timeout", () => handlerLoadTimeout = io.GetDuration("handler-load-timeout", TimeSpan.FromMilliseconds(10)));
        Try($"{Section}.handler-directories", () => handlerDirectories = ReadHandlerDirectories(section));
        var startTimeout = TimeSpan.Zero;
        Try($"{Section}.start-timeout", () => startTimeout = io.GetDuration("start-timeout", TimeSpan.FromMilliseconds(1)));
        if (control is null || upgrade is null || cluster is null)
            return Result(null);

        return Result(new ShardRuntimeSettings(
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
            ActorsOnIoLoops: actorsOnIoLoops,
            IoLoopHoldUpWarning: holdUpWarning,
            HandlerLoadTimeout: handlerLoadTimeout,
            HandlerDirectories: handlerDirectories,
            StartTimeout: startTimeout));
    }

    /// <summary>
    /// Reads a listener that is not in this node's file (one the cluster's desired state defines, as a HOCON block) the
    /// way the file's listeners are read: over this node's listener-defaults, on its bind-address, and as strictly (an
    /// unknown key is refused with the nearest valid one). Throws
    /// <see cref="ShardRuntimeConfigurationException"/> naming the key at fault (under <paramref name="path"/>).
    /// </summary>
    public ListenerSettings ReadListener(string name, Config block, string path)
    {
        if (ConfigKeys.FindInListener(block, path) is [var unknown, ..])
            throw new ShardRuntimeConfigurationException(unknown.Key, unknown.Text);
        return ReadListener(name, block, ListenerDefaults, BindAddress, path);
    }

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
