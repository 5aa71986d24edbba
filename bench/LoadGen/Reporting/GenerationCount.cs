namespace ShardRuntime.LoadGen.Reporting;

/// <summary>
/// One value of the generation header: how many successful replies carried it, on how many connections it was the
/// first value seen, and when (since the start of the run) it was first and last seen.
/// </summary>
public sealed record GenerationCount(string Value, long Replies, long Connections, double FirstSeenMs, double LastSeenMs);
