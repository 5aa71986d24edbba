using System.Text.Json;
using Akka.Actor;
using System.Runtime.Serialization;
using Akka.Serialization;

namespace ShardRuntime.Actors.Cluster;

/// <summary>
/// Serializes <see cref="IClusterMessage"/>s (bound in reference.conf) as UTF-8 JSON, with a short manifest per type,
/// so that nodes of different builds read each other's messages as long as the fields agree. An unknown manifest is an
/// error that names it.
/// </summary>
public sealed class ClusterMessageSerializer : SerializerWithStringManifest
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private static readonly Dictionary<string, Type> Types = new(StringComparer.Ordinal)
    {
        ["listener"] = typeof(ClusterListener),
        ["get-node-status"] = typeof(ClusterListeners.GetNodeStatus),
        ["node-status"] = typeof(ClusterListeners.NodeStatusReply),
        ["reload-node"] = typeof(ClusterListeners.ReloadNode),
        ["node-reloaded"] = typeof(ClusterListeners.NodeReloaded),
        ["node-reload-failed"] = typeof(ClusterListeners.NodeReloadFailed),
    };

    private static readonly Dictionary<Type, string> Manifests = Types.ToDictionary(t => t.Value, t => t.Key);

    /// <summary>Made by Akka.NET's serialization for the actor system <paramref name="system"/>.</summary>
    public ClusterMessageSerializer(ExtendedActorSystem system) : base(system) { }

    /// <summary>Unique among the actor system's serializers (Akka's own are below 100).</summary>
    public override int Identifier => 5407;

    /// <inheritdoc/>
    public override string Manifest(object o) =>
        Manifests.TryGetValue(o.GetType(), out var manifest)
            ? manifest
            : throw new ArgumentException($"{o.GetType()} is not a ShardRuntime cluster message", nameof(o));

    /// <inheritdoc/>
    public override byte[] ToBinary(object obj) =>
        obj is ClusterListeners.GetNodeStatus ? [] : JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType(), Json);

    /// <inheritdoc/>
    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (!Types.TryGetValue(manifest, out var type))
            throw new SerializationException($"unknown ShardRuntime cluster message '{manifest}' (known: {string.Join(", ", Types.Keys)})");
        if (type == typeof(ClusterListeners.GetNodeStatus)) return ClusterListeners.GetNodeStatus.Instance;
        return JsonSerializer.Deserialize(bytes, type, Json)
            ?? throw new SerializationException($"ShardRuntime cluster message '{manifest}' is null");
    }
}
