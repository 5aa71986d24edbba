namespace ShardRuntime.Actors.Connections;

/// <summary>Process-wide connection identifiers (they name the connection actors and appear in logs).</summary>
internal static class ConnectionIds
{
    private static long _last;

    public static long Next() => Interlocked.Increment(ref _last);
}
