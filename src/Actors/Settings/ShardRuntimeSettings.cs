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
    /// <summary>The HOCON section every ShardRuntime setting lives under.</summary>
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
        var problems = new Problems(config);
        var listeners = new List<ListenerSettings>();
        var root = config.WithFallback(ReferenceConfig.Default);
        Config section = Config.Empty, defaults = Config.Empty;
        if (!problems.Try(Section, () => section = root.GetConfig(Section) ?? throw new ShardRuntimeConfigurationException(Section, "section is missing"))
            || !problems.Try($"{Section}.listener-defaults", () => defaults = section.GetConfig("listener-defaults")
                ?? throw new ShardRuntimeConfigurationException($"{Section}.listener-defaults", "is missing")))
            return problems.Result(null, listeners);

        IPAddress? bindAddress = null;
        problems.Try($"{Section}.bind-address", () => bindAddress = ReadBindAddress(section));
        ReadListeners(section, defaults, bindAddress, problems, listeners);
        var drainTimeout = ReadDrainTimeout(root, section, problems);
        ControlSettings? control = null;
        UpgradeSettings? upgrade = null;
        ClusterSettings? cluster = null;
        if (problems.Try($"{Section}.control", () => control = ControlSettings.Create(section.GetConfig("control") ?? Config.Empty, $"{Section}.control")))
            problems.Try($"{Section}.upgrade", () => upgrade = UpgradeSettings.Create(section.GetConfig("upgrade") ?? Config.Empty, $"{Section}.upgrade", control!));
        problems.Try($"{Section}.cluster", () => cluster = ClusterSettings.Create(section.GetConfig("cluster") ?? Config.Empty, $"{Section}.cluster"));
        var host = ReadLoopsAndHandlers(section, problems);
        if (control is null || upgrade is null || cluster is null)
            return problems.Result(null, listeners);

        return problems.Result(new ShardRuntimeSettings(
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
            IoLoops: host.IoLoops == 0 ? Math.Min(Environment.ProcessorCount, Runtime.Sockets.Readiness.ReadinessEngine.MaxLoops) : host.IoLoops,
            ActorsOnIoLoops: host.ActorsOnIoLoops,
            IoLoopHoldUpWarning: host.HoldUpWarning,
            HandlerLoadTimeout: host.HandlerLoadTimeout,
            HandlerDirectories: host.HandlerDirectories,
            StartTimeout: host.StartTimeout), listeners);
    }

    /// <summary>Reads each block under <c>listeners</c> into <paramref name="listeners"/>, then refuses a fixed endpoint two of them share.</summary>
    private static void ReadListeners(Config section, Config defaults, IPAddress? bindAddress, Problems problems, List<ListenerSettings> listeners)
    {
        var listenersConfig = section.GetConfig("listeners");
        if (listenersConfig is not null && !listenersConfig.IsEmpty)
        {
            foreach (var (name, value) in listenersConfig.AsEnumerable().Select(kv => (kv.Key, kv.Value)).DistinctBy(kv => kv.Key))
            {
                var path = $"{Section}.listeners.{name}";
                problems.Try(path, () => listeners.Add(value.IsObject()
                    ? ReadListener(name, listenersConfig.GetConfig(name), defaults, bindAddress, path)
                    : throw new ShardRuntimeConfigurationException(path, "must be a block such as { endpoint = \"127.0.0.1:8080\", handler = http-ok }")));
            }
        }

        // Port 0 asks the kernel for a fresh port per listener, so only fixed ports can collide.
        foreach (var shared in listeners.Where(l => l.EndPoint.Port != 0).GroupBy(l => (l.EndPoint, l.Protocol)).Where(g => g.Count() > 1))
            problems.Add(new ShardRuntimeConfigurationException($"{Section}.listeners.{shared.Skip(1).First().Name}.endpoint",
                $"{shared.Key.EndPoint} is already used by listener '{shared.First().Name}'"));
    }

    /// <summary><c>shutdown.drain-timeout</c>, which must end before Akka's service-unbind phase does.</summary>
    private static TimeSpan ReadDrainTimeout(Config root, Config section, Problems problems)
    {
        var drainTimeout = TimeSpan.Zero;
        problems.Try($"{Section}.shutdown", () =>
        {
            var shutdown = new ConfigReader(section.GetConfig("shutdown") ?? Config.Empty, $"{Section}.shutdown");
            drainTimeout = shutdown.GetDuration("drain-timeout", TimeSpan.Zero);
            const string phaseKey = "akka.coordinated-shutdown.phases.service-unbind.timeout";
            var phaseTimeout = new ConfigReader(root, "").GetDuration(phaseKey, TimeSpan.Zero);
            if (phaseTimeout <= drainTimeout)
                throw new ShardRuntimeConfigurationException($"{Section}.shutdown.drain-timeout",
                    $"{drainTimeout} must be shorter than {phaseKey} ({phaseTimeout}), or the drain is cut short");
        });
        return drainTimeout;
    }

    /// <summary>The I/O loops' keys, the handler keys and <c>start-timeout</c>, each read on its own.</summary>
    private static LoopsAndHandlers ReadLoopsAndHandlers(Config section, Problems problems)
    {
        var io = new ConfigReader(section, Section);
        var (ioLoops, actorsOnIoLoops, holdUpWarning) = (0, false, TimeSpan.Zero);
        problems.Try($"{Section}.io-loops", () => ioLoops = io.GetInt("io-loops", 0, Runtime.Sockets.Readiness.ReadinessEngine.MaxLoops));
        problems.Try($"{Section}.actors-on-io-loops", () => actorsOnIoLoops = io.GetBool("actors-on-io-loops"));
        problems.Try($"{Section}.io-loop-hold-up-warning", () => holdUpWarning = io.GetDuration("io-loop-hold-up-warning", TimeSpan.FromMilliseconds(10)));
        var (handlerLoadTimeout, handlerDirectories) = (TimeSpan.Zero, (IReadOnlyList<string>)[]);
        problems.Try($"{Section}.handler-load-timeout", () => handlerLoadTimeout = io.GetDuration("handler-load-timeout", TimeSpan.FromMilliseconds(10)));
        problems.Try($"{Section}.handler-directories", () => handlerDirectories = ReadHandlerDirectories(section));
        var startTimeout = TimeSpan.Zero;
        problems.Try($"{Section}.start-timeout", () => startTimeout = io.GetDuration("start-timeout", TimeSpan.FromMilliseconds(1)));
        return new LoopsAndHandlers(ioLoops, actorsOnIoLoops, holdUpWarning, handlerLoadTimeout, handlerDirectories, startTimeout);
    }

    private readonly record struct LoopsAndHandlers(
        int IoLoops,
        bool ActorsOnIoLoops,
        TimeSpan HoldUpWarning,
        TimeSpan HandlerLoadTimeout,
        IReadOnlyList<string> HandlerDirectories,
        TimeSpan StartTimeout);

    /// <summary>What <see cref="Check"/> finds: the unknown keys (found first, from the whole config) and the malformed values, in the order read.</summary>
    private sealed class Problems(Config config)
    {
        private readonly List<ShardRuntimeConfigurationException> _keys =
            ConfigKeys.Find(config).Select(k => new ShardRuntimeConfigurationException(k.Key, k.Text)).ToList();
        private readonly List<ShardRuntimeConfigurationException> _values = [];

        public void Add(ShardRuntimeConfigurationException problem) => _values.Add(problem);

        /// <summary>Runs <paramref name="read"/>; a configuration error it throws is kept (under <paramref name="key"/> unless it names its own). False when it threw.</summary>
        public bool Try(string key, Action read)
        {
            try
            {
                read();
                return true;
            }
            catch (ShardRuntimeConfigurationException e)
            {
                _values.Add(e);
            }
            catch (Exception e) when (e is ConfigurationException or FormatException or InvalidCastException or ArgumentException)
            {
                _values.Add(new ShardRuntimeConfigurationException(key, e.Message, e));
            }
            return false;
        }

        public ShardRuntimeSettingsCheck Result(ShardRuntimeSettings? settings, List<ListenerSettings> listeners)
        {
            // A key that is unknown (a block where a value belongs, ...) is reported as that, not again as malformed.
            var problems = _keys.Concat(_values.Where(v => _keys.All(k => k.Key != v.Key))).ToList();
            return new ShardRuntimeSettingsCheck(problems.Count == 0 ? settings : null, listeners, problems);
        }
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
