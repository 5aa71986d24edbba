using System.Text.Json;

namespace ShardRuntime.Host.Cli;

/// <summary>
/// One reply of the node's control socket: <see cref="Ok"/> and, when it is false, <see cref="Error"/>; the whole
/// reply object is in <see cref="Root"/> for the command-specific member (<c>status</c>, <c>result</c>).
/// </summary>
public sealed record ControlReply(bool Ok, string? Error, JsonElement Root)
{
    /// <summary>The node refused because of its configuration file (the CLI exits <see cref="ExitCodes.ConfigInvalid"/>).</summary>
    public bool InvalidConfiguration =>
        Root.TryGetProperty(ShardRuntime.Actors.ControlSocket.ControlJson.InvalidConfigurationField, out var flag) && flag.ValueKind == JsonValueKind.True;
}
