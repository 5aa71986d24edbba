using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ShardRuntime.Actors.Control;

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

    /// <summary>Member of the <c>status</c> reply: <see cref="Coordinator.Coordinator.NodeStatus"/> in camelCase.</summary>
    public const string StatusField = "status";

    /// <summary>Member of a command's reply that carries the coordinator's answer, e.g. <see cref="Coordinator.Coordinator.ScaledTo"/>.</summary>
    public const string ResultField = "result";

    /// <summary>
    /// How payloads are (de)serialized on both ends: camelCase names, compact, no HTML escaping (the text goes to a
    /// terminal or a script, never into a web page).
    /// </summary>
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = false,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The request line (without its newline) of <c>status</c>: the node's listeners, shards and counters.</summary>
    public static string StatusRequest() =>
        new JsonObject { [CommandField] = "status" }.ToJsonString(Options);

    /// <summary>The request line (without its newline) of <c>scale</c>: set the listener's number of shards.</summary>
    public static string ScaleRequest(string listener, int shards) =>
        new JsonObject { [CommandField] = "scale", ["listener"] = listener, ["shards"] = shards }.ToJsonString(Options);

    /// <summary>The request line of <c>reload</c>: load every listener's handler (or one listener's) as a new generation.</summary>
    public static string ReloadRequest(string? listener)
    {
        var request = new JsonObject { [CommandField] = "reload" };
        if (listener is not null) request["listener"] = listener;
        return request.ToJsonString(Options);
    }

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
}
