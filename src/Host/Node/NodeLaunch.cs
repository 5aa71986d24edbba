namespace ShardRuntime.Host.Node;

/// <summary>How <c>run</c> was invoked: what a node needs to start, and to start its successor the same way.</summary>
/// <param name="ConfigFile">--config, or null for the embedded configuration.</param>
/// <param name="ControlSocket">--control-socket, or null.</param>
/// <param name="LogFormat">--log-format: text or json.</param>
/// <param name="IsSuccessor">--upgrade-from was given: adopt the sockets of the running node instead of binding.</param>
/// <param name="PredecessorSocket">The upgrade socket given with --upgrade-from, or null for the configured one.</param>
/// <param name="ArgumentCount">How many arguments Main received, to find the program's own invocation in /proc/self/cmdline.</param>
internal sealed record NodeLaunch(FileInfo? ConfigFile, string? ControlSocket, string LogFormat, bool IsSuccessor, string? PredecessorSocket, int ArgumentCount)
{
    public bool JsonLogs => LogFormat == "json";
}
