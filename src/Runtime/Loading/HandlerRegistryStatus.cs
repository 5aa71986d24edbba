namespace ShardRuntime.Runtime.Loading;

/// <summary>A snapshot of one listener's handler generations.</summary>
/// <param name="ListenerName">The listener.</param>
/// <param name="CurrentGeneration">The number of the generation new connections get (0 once the registry is disposed).</param>
/// <param name="Generations">The current generation first, then retired ones still draining, newest first.</param>
/// <param name="LastReloadFailure">Why the most recent reload was refused, or null when it succeeded (or none was tried).</param>
public sealed record HandlerRegistryStatus(
    string ListenerName,
    int CurrentGeneration,
    IReadOnlyList<HandlerGenerationStatus> Generations,
    string? LastReloadFailure);
