namespace ShardRuntime.Runtime.Loading;

/// <summary>One live generation of a listener's handler, as <c>status</c> shows it.</summary>
/// <param name="Number">The generation number.</param>
/// <param name="Name">The handler's name.</param>
/// <param name="IsCurrent">True for the generation new connections get; false for a retired one still draining.</param>
/// <param name="LiveConnections">Connections still running on it.</param>
/// <param name="AssemblyPath">The file it was loaded from; null for a built-in handler.</param>
/// <param name="FileSha256">SHA-256 of the loaded bytes (lowercase hex); null for a built-in handler.</param>
/// <param name="FileTimestampUtc">The file's last write time when it was read; null for a built-in handler.</param>
/// <param name="LoadedAtUtc">When the generation was created.</param>
/// <param name="Style">The handler style: <c>span</c>, <c>async</c> or <c>datagram</c> (<see cref="HandlerGeneration.Style"/>).</param>
/// <param name="Source">Where its code came from (<see cref="HandlerGeneration.Source"/>): a file, a factory registered by code, or built-in.</param>
public sealed record HandlerGenerationStatus(
    int Number,
    string Name,
    bool IsCurrent,
    int LiveConnections,
    string? AssemblyPath,
    string? FileSha256,
    DateTime? FileTimestampUtc,
    DateTime LoadedAtUtc,
    string Style = "span",
    string Source = HandlerGeneration.BuiltInSource);
