namespace ShardRuntime.Host.Cli;

/// <summary>No node could be reached on the control socket; the message says what happened (exit code 3).</summary>
public sealed class NodeUnreachableException(string message, Exception? inner = null) : Exception(message, inner);
