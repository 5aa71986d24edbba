using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ShardRuntime.Actors.ControlSocket;

/// <summary>
/// The control socket's wire format, shared by the node and the command-line tool. A client connects, writes one
/// request (a JSON object on one line, <c>{"command":"scale","listener":"http","shards":4}</c>), and reads one reply
/// line: <c>{"ok":true, ...}</c> with a command-specific member, or <c>{"ok":false,"error":"why"}</c>. Then the node
/// closes the connection.
/// </summary>
public static class ControlJson
{
    /// <summary>Member of a request naming the command.</summary>
    public const string CommandField = "command";

    /// <summary>Member of every reply: true when the command was carried out.</summary>
    public const string OkField = "ok";

    /// <summary>Member of a failed reply: why the node refused or could not carry out the request.</summary>
    public const string ErrorField = "error";

    /// <summary>Set (true) on a refusal caused by the node's configuration file.</summary>
    public const string InvalidConfigurationField = "invalidConfiguration";

    /// <summary>Member of the <c>status</c> reply: <see cref="Coordination.Coordinator.NodeStatus"/> in camelCase.</summary>
    public const string StatusField = "status";

    /// <summary>Member of a command's reply that carries the coordinator's answer, e.g. <see cref="Coordination.Coordinator.ScaledTo"/>.</summary>
    public const string ResultField = "result";

    /// <summary>Member of a <c>reload</c> request: true to let a configuration without listeners close every listener.</summary>
    public const string AllowEmptyField = "allow-empty";

    /// <summary>Member of a request: true to address the cluster (<c>status</c>, <c>scale</c>, <c>reload</c>) rather than this node.</summary>
    public const string ClusterField = "cluster";

    /// <summary>
    /// How payloads are (de)serialized on both ends: camelCase names, compact, no HTML escaping (the text goes to a
    /// terminal or a script, never into a web page).
    /// </summary>
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = false,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The request line (without its newline) of <c>status</c>: the node's listeners, shards and counters (every node's, with <paramref name="cluster"/>).</summary>
    public static string StatusRequest(bool cluster = false)
    {
        var request = new JsonObject { [CommandField] = "status" };
        if (cluster) request[ClusterField] = true;
        return request.ToJsonString(Options);
    }

    /// <summary>
    /// The request line (without its newline) of <c>scale</c>: set the listener's number of shards on this node, or in
    /// the cluster's desired state (<paramref name="cluster"/>; on the nodes of <paramref name="role"/> only, when given).
    /// </summary>
    public static string ScaleRequest(string listener, int shards, bool cluster = false, string? role = null)
    {
        var request = new JsonObject { [CommandField] = "scale", ["listener"] = listener, ["shards"] = shards };
        if (cluster) request[ClusterField] = true;
        if (role is not null) request["role"] = role;
        return request.ToJsonString(Options);
    }

    /// <summary>
    /// The request line of <c>reload</c>: load every listener's handler (or one listener's) as a new generation; node
    /// after node with <paramref name="cluster"/>; <paramref name="allowEmpty"/>: a configuration without listeners may close them all.
    /// </summary>
    public static string ReloadRequest(string? listener, bool cluster = false, bool allowEmpty = false)
    {
        var request = new JsonObject { [CommandField] = "reload" };
        if (listener is not null) request["listener"] = listener;
        if (cluster) request[ClusterField] = true;
        if (allowEmpty) request[AllowEmptyField] = true;
        return request.ToJsonString(Options);
    }

    /// <summary>The request line of <c>listener-set</c>: set what is given of a listener in the cluster's desired state.</summary>
    public static string ListenerSetRequest(string listener, string? definition, int? shards, IReadOnlyList<string>? roles, bool reload)
    {
        var request = new JsonObject { [CommandField] = "listener-set", ["listener"] = listener };
        if (definition is not null) request["definition"] = definition;
        if (shards is not null) request["shards"] = shards;
        if (roles is not null) request["roles"] = new JsonArray(roles.Select(r => (JsonNode?)JsonValue.Create(r)).ToArray());
        if (reload) request["reload"] = true;
        return request.ToJsonString(Options);
    }

    /// <summary>The request line of <c>listener-remove</c>: remove a listener cluster-wide.</summary>
    public static string ListenerRemoveRequest(string listener) =>
        new JsonObject { [CommandField] = "listener-remove", ["listener"] = listener }.ToJsonString(Options);

    /// <summary>The request line of <c>listener-show</c>: the cluster's desired state.</summary>
    public static string ListenerShowRequest() =>
        new JsonObject { [CommandField] = "listener-show" }.ToJsonString(Options);

    /// <summary>The request line of <c>upgrade</c>: start a successor process and hand it every listening socket.</summary>
    public static string UpgradeRequest() =>
        new JsonObject { [CommandField] = "upgrade" }.ToJsonString(Options);

    internal static string Success(string member, object payload) =>
        new JsonObject
        {
            [OkField] = true,
            [member] = JsonSerializer.SerializeToNode(payload, payload.GetType(), Options),
        }.ToJsonString(Options);

    internal static string Failure(string error) =>
        new JsonObject { [OkField] = false, [ErrorField] = error }.ToJsonString(Options);

    /// <summary>A refusal because of the node's configuration file (<c>"invalidConfiguration": true</c>: the CLI exits 2).</summary>
    internal static string ConfigurationFailure(string error) =>
        new JsonObject { [OkField] = false, [ErrorField] = error, [InvalidConfigurationField] = true }.ToJsonString(Options);

    /// <summary>A failure that still carries a payload (what a stopped rolling reload did on each node).</summary>
    internal static string Failure(string error, string member, object payload) =>
        new JsonObject
        {
            [OkField] = false,
            [ErrorField] = error,
            [member] = JsonSerializer.SerializeToNode(payload, payload.GetType(), Options),
        }.ToJsonString(Options);
}
