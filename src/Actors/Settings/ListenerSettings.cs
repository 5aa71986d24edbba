using System.Net;
using Akka.Configuration;
using ShardRuntime.Runtime.Sockets;
using ShardRuntime.Runtime.Tls;

namespace ShardRuntime.Actors.Settings;

/// <summary>
/// Everything about one named listener: where it listens, how many sockets share the port, which handler
/// serves it and its limits. Read from <c>shard-runtime.listeners.&lt;name&gt;</c> over
/// <c>shard-runtime.listener-defaults</c>. <c>Tls</c>: its <c>tls</c> block when it names a certificate (null: plain
/// TCP); the files are read off the coordinator (<see cref="TlsMaterial.Load"/>). <c>FromCluster</c>: defined by the cluster's desired state rather than the
/// node's own file, so its handler-assembly must lie in <c>shard-runtime.handler-directories</c>.
/// </summary>
public sealed record ListenerSettings(
    string Name,
    IPEndPoint EndPoint,
    TransportProtocol Protocol,
    int Shards,
    string Handler,
    string? HandlerAssembly,
    string? HandlerType,
    int Backlog,
    int MaxConnections,
    TimeSpan IdleTimeout,
    TimeSpan RequestHeadTimeout,
    TimeSpan DrainTimeout,
    int ReceiveBufferSize,
    int MaxReceiveBytes,
    int MaxPendingWriteBytes,
    TimeSpan LingerTimeout,
    TimeSpan AcceptBackoff,
    TimeSpan AcceptBackoffMax,
    TimeSpan RetireQuietPeriod,
    TimeSpan RetireQueueTimeout,
    bool FirstTurnInShard = true,
    bool FromCluster = false,
    int DatagramsPerBatch = 32,
    int MaxDatagramSize = 2048,
    DnsStaticSettings? DnsStatic = null,
    FlowIdLocation? FlowId = null,
    int DatagramReceiveBuffer = 4 * 1024 * 1024,
    ConnectionIo Io = ConnectionIo.Loop,
    TlsOptions? Tls = null)
{
    /// <summary>The one key of a listener's block that has no default in listener-defaults: where it listens.</summary>
    public const string EndpointKey = "endpoint";

    /// <summary>Largest shard count a listener may ask for.</summary>
    public const int MaxShards = 256;

    /// <summary>
    /// Why <paramref name="shards"/> cannot be a running listener's shard count (<c>scale</c>, <c>listener set</c>), or
    /// null. A listener keeps at least one socket: 0 in a config file means one per core, so a running listener at 0
    /// sockets would come back on every core at the next start; stopping a listener is removing it, and the refusal
    /// says how.
    /// </summary>
    public static string? ShardCountRefusal(string listener, int shards) => shards switch
    {
        0 => $"a listener keeps 1 to {MaxShards} shards, got 0; to stop serving '{listener}', remove it from the config file " +
             $"and run `shardruntime reload` (in a cluster: `shardruntime listener remove {listener} --cluster`)",
        < 1 or > MaxShards => $"shard count must be between 1 and {MaxShards}, got {shards}",
        _ => null,
    };

    /// <summary>A UDP listener: datagram sockets served by datagram handlers (<see cref="Runtime.Datagrams.IDatagramHandler"/>).</summary>
    public bool IsDatagram => Protocol == TransportProtocol.Udp;

    /// <summary>The kind of handler the listener's protocol takes, as refusals name it.</summary>
    public static string HandlerKind(bool datagram) => datagram ? "a datagram handler (udp)" : "a connection handler (tcp)";

    /// <summary>The shard count to run: <see cref="Shards"/>, or one per core when it is 0.</summary>
    public int EffectiveShards => Shards == 0 ? Environment.ProcessorCount : Shards;

    /// <summary>Reads a listener named <paramref name="name"/> from its block, falling back to <paramref name="defaults"/>.</summary>
    public static ListenerSettings Create(string name, Config listener, Config defaults, string path)
    {
        ValidateName(name, path);
        var r = new ConfigReader(listener.WithFallback(defaults), path);
        var settings = new ListenerSettings(
            Name: name,
            EndPoint: r.GetEndPoint(EndpointKey),
            Protocol: r.GetEnum<TransportProtocol>("protocol"),
            Shards: r.GetInt("shards", 0, MaxShards),
            Handler: r.GetString("handler"),
            HandlerAssembly: NullIfEmpty(r.GetString("handler-assembly", allowEmpty: true)) is { } assembly ? Path.GetFullPath(assembly) : null,
            HandlerType: NullIfEmpty(r.GetString("handler-type", allowEmpty: true)),
            Backlog: r.GetInt("backlog", 1, 65535),
            MaxConnections: r.GetInt("max-connections", 1, 10_000_000),
            IdleTimeout: r.GetDuration("idle-timeout", TimeSpan.FromMilliseconds(1)),
            RequestHeadTimeout: r.GetDuration("request-head-timeout", TimeSpan.FromMilliseconds(1)),
            DrainTimeout: r.GetDuration("drain-timeout", TimeSpan.Zero),
            ReceiveBufferSize: (int)r.GetBytes("receive-buffer-size", 256, 16 * 1024 * 1024),
            MaxReceiveBytes: (int)r.GetBytes("max-receive-bytes", 256, 1024 * 1024 * 1024),
            MaxPendingWriteBytes: (int)r.GetBytes("max-pending-write-bytes", 1024, 1024 * 1024 * 1024),
            LingerTimeout: r.GetDuration("linger-timeout", TimeSpan.Zero),
            AcceptBackoff: r.GetDuration("accept-backoff", TimeSpan.FromMilliseconds(1)),
            AcceptBackoffMax: r.GetDuration("accept-backoff-max", TimeSpan.FromMilliseconds(1)),
            RetireQuietPeriod: r.GetDuration("retire-quiet-period", TimeSpan.FromMilliseconds(1)),
            RetireQueueTimeout: r.GetDuration("retire-queue-timeout", TimeSpan.FromMilliseconds(1)),
            FirstTurnInShard: r.GetBool("first-turn-in-shard"),
            DatagramsPerBatch: r.GetInt("datagrams-per-batch", 1, 1024),
            MaxDatagramSize: (int)r.GetBytes("max-datagram-size", 1, 65535),
            DatagramReceiveBuffer: (int)r.GetBytes("datagram-receive-buffer", 4096, int.MaxValue / 2),
            Io: r.GetEnum<ConnectionIo>("io"));
        if (settings.HandlerAssembly is not null && settings.HandlerType is null)
            throw new ShardRuntimeConfigurationException(r.KeyOf("handler-type"),
                "is required with handler-assembly: the full name of the type that implements IConnectionHandlerFactory or IConnectionHandler (span style), IStreamConnectionHandlerFactory or IStreamConnectionHandler (async style)");
        if (settings.HandlerAssembly is null && settings.HandlerType is not null)
            throw new ShardRuntimeConfigurationException(r.KeyOf("handler-assembly"), "is required with handler-type: the path of the .dll");
        if (settings.IsDatagram && settings.Io != ConnectionIo.Loop)
            throw new ShardRuntimeConfigurationException(r.KeyOf("io"), "is for tcp listeners only (this one has protocol = udp); set it to loop");
        if (ReadFlowId(r) is { } flowId)
        {
            if (!settings.IsDatagram)
                throw new ShardRuntimeConfigurationException(r.KeyOf("flow-id.length"), "flow-sticky steering is for udp listeners only (this one has protocol = tcp); set it to 0");
            settings = settings with { FlowId = flowId };
        }
        if (listener.HasPath(DnsStaticSettings.Key) && (settings.HandlerAssembly is not null || settings.Handler != Runtime.Handlers.DnsStaticHandlerFactory.HandlerName))
            throw new ShardRuntimeConfigurationException(r.KeyOf(DnsStaticSettings.Key),
                $"belongs to the dns-static handler only; this listener's handler is '{settings.HandlerType ?? settings.Handler}' (remove the block, or set handler = dns-static)");
        if (settings.HandlerAssembly is null && settings.Handler == Runtime.Handlers.DnsStaticHandlerFactory.HandlerName)
        {
            var merged = listener.WithFallback(defaults);
            settings = settings with { DnsStatic = DnsStaticSettings.Create(merged.GetConfig(DnsStaticSettings.Key), r.KeyOf(DnsStaticSettings.Key)) };
        }
        if (ListenerTlsSettings.Create(listener.WithFallback(defaults), path, settings.Protocol) is { } tls)
            settings = settings with { Tls = tls };
        if (settings.MaxReceiveBytes < settings.ReceiveBufferSize)
            throw new ShardRuntimeConfigurationException(r.KeyOf("max-receive-bytes"),
                $"must be at least receive-buffer-size ({settings.ReceiveBufferSize} bytes)");
        return settings;
    }

    /// <summary><c>flow-id</c>: where datagrams carry their flow's id, or null when its length is 0 (off).</summary>
    private static FlowIdLocation? ReadFlowId(ConfigReader r)
    {
        var length = r.GetInt("flow-id.length", 0, FlowIdLocation.MaxLength);
        var offset = r.GetInt("flow-id.offset", 0, FlowIdLocation.MaxEnd - Math.Max(length, 1));
        return length == 0 ? null : new FlowIdLocation(offset, length);
    }

    private static string? NullIfEmpty(string value) => string.IsNullOrWhiteSpace(value) ? null : value;

    /// <summary>Listener names become actor names and CLI arguments: letters, digits, '-' and '_' only.</summary>
    public static void ValidateName(string name, string path)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            throw new ShardRuntimeConfigurationException(path,
                $"listener name '{name}' must be 1-64 characters of letters, digits, '-' and '_'");
    }
}
