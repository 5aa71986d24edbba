namespace ShardRuntime.Runtime.Sockets;

/// <summary>What <see cref="ListenerDrain.DrainAsync"/> did.</summary>
/// <param name="Accepted">Connections taken from the queue and handed to the callback.</param>
/// <param name="Drained">
/// True when the queue stayed empty for the whole quiet period and the kernel then counted 0 queued connections;
/// false when the deadline passed first.
/// </param>
/// <param name="QueuedAtEnd">The kernel's count of connections still waiting in the accept queue when the drain ended.</param>
/// <param name="Elapsed">How long the drain took.</param>
public sealed record ListenerDrainResult(int Accepted, bool Drained, int QueuedAtEnd, TimeSpan Elapsed);
