using System.Collections.Concurrent;
using System.Diagnostics;

namespace ShardRuntime.LoadGen.Reporting;

/// <summary>Live tallies of the generation header's values; a lookup per reply, an allocation only per new value.</summary>
internal sealed class GenerationTally(long startTimestamp)
{
    private sealed class Entry(long now)
    {
        public long Replies;
        public long Connections;
        public readonly long FirstSeen = now;
        public long LastSeen = now;
    }

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private long _missing;
    private long _mixedConnections;

    /// <summary>A successful reply carried <paramref name="value"/>; <paramref name="firstOnConnection"/>: the connection's first value.</summary>
    public void Record(string value, bool firstOnConnection, long now)
    {
        if (!_entries.TryGetValue(value, out var entry))
            entry = _entries.GetOrAdd(value, _ => new Entry(now));
        Interlocked.Increment(ref entry.Replies);
        if (firstOnConnection)
            Interlocked.Increment(ref entry.Connections);
        Volatile.Write(ref entry.LastSeen, now);
    }

    /// <summary>A successful reply lacked the header.</summary>
    public void RecordMissing() => Interlocked.Increment(ref _missing);

    /// <summary>A connection saw a second, different value.</summary>
    public void RecordMixedConnection() => Interlocked.Increment(ref _mixedConnections);

    public long Missing => Volatile.Read(ref _missing);

    public long MixedConnections => Volatile.Read(ref _mixedConnections);

    public IReadOnlyList<GenerationCount> Snapshot() =>
        _entries
            .Select(e => new GenerationCount(
                e.Key, Volatile.Read(ref e.Value.Replies), Volatile.Read(ref e.Value.Connections),
                Stopwatch.GetElapsedTime(startTimestamp, e.Value.FirstSeen).TotalMilliseconds,
                Stopwatch.GetElapsedTime(startTimestamp, Volatile.Read(ref e.Value.LastSeen)).TotalMilliseconds))
            .OrderBy(g => g.FirstSeenMs)
            .ThenBy(g => g.Value, StringComparer.Ordinal)
            .ToList();
}
