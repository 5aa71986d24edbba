using System.Net;
using System.Text.Json;

namespace ShardRuntime.EndToEnd.Tests.Support;

/// <summary>
/// <c>status --json</c> as a script sees it: read from the JSON text, not from the product's own types, so that a change
/// of the wire format shows here.
/// </summary>
internal sealed record NodeStatus(
    int ProcessId,
    bool Draining,
    IReadOnlyList<ListenerStatus> Listeners,
    int ProcessGeneration,
    UpgradeStatus? Upgrade,
    string? LastUpgradeFailure,
    bool LetGo,
    string? Transport = null,
    bool InsecureTransport = false)
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);

    public static NodeStatus Parse(string json) =>
        JsonSerializer.Deserialize<NodeStatus>(json, Options) ?? throw new InvalidDataException($"status is null: {json}");

    public ListenerStatus Listener(string name) =>
        Listeners.SingleOrDefault(l => l.Name == name)
        ?? throw new KeyNotFoundException($"status has no listener '{name}' (has: {string.Join(", ", Listeners.Select(l => l.Name))})");
}

internal sealed record ListenerStatus(
    string Name,
    string EndPoint,
    string Protocol,
    string Handler,
    int DesiredShards,
    long Accepted,
    int OpenConnections,
    int Generation,
    IReadOnlyList<GenerationStatus> Generations,
    string? LastReloadFailure,
    IReadOnlyList<ShardStatus> Shards)
{
    /// <summary>The endpoint the node actually bound ("127.0.0.1:41234/tcp" or "127.0.0.1:41234").</summary>
    public IPEndPoint Bound => IPEndPoint.Parse(EndPoint.Split('/')[0]);

    /// <summary>The shards that serve: accepting (tcp) or receiving (udp).</summary>
    public IEnumerable<ShardStatus> Accepting => Shards.Where(s => s.State is "accepting" or "receiving");
}

internal sealed record GenerationStatus(int Generation, string Handler, bool Current, int OpenConnections, string? Assembly, string? Sha256);

internal sealed record ShardStatus(int ShardId, string State, long SocketInode, long Accepted, int OpenConnections);

internal sealed record UpgradeStatus(int? SuccessorProcessId, string Phase, DateTimeOffset Since);
