namespace ShardRuntime.LoadGen.Run;

/// <summary>What one received datagram was, as <see cref="DatagramTracker.Settle"/> decided.</summary>
internal enum DatagramMatch
{
    /// <summary>The first reply to an outstanding query, and the right one: the query is answered.</summary>
    Answered,

    /// <summary>The first reply to an outstanding query, but not the right one: the query ends as a wrong reply.</summary>
    Wrong,

    /// <summary>Another reply to a query that already had one.</summary>
    Duplicate,

    /// <summary>A reply to a query already counted as lost (past the timeout) or whose send failed.</summary>
    Late,

    /// <summary>A datagram that names no query of this flow (never sent, or too short to name one).</summary>
    Unmatched,
}
