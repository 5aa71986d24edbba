using System.Numerics;

namespace ShardRuntime.LoadGen.Reporting;

/// <summary>
/// A thread-safe HDR-style histogram of latencies in 100 ns units: exact below 25.6 µs, then 128 buckets per power of
/// two (at most 0.8 % relative error). Recording is lock-free and allocation-free. Min, max and mean are exact; the
/// percentiles and the standard deviation come from the buckets.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int LinearBuckets = 256;
    private const int SubBuckets = 128;
    private const int Octaves = 56;

    private readonly long[] _counts = new long[LinearBuckets + Octaves * SubBuckets];
    private long _count;
    private long _sum;
    private long _min = long.MaxValue;
    private long _max;

    /// <summary>Records one latency in 100 ns units (TimeSpan ticks).</summary>
    public void Record(long ticks)
    {
        if (ticks < 0)
            ticks = 0;
        Interlocked.Increment(ref _counts[IndexOf(ticks)]);
        Interlocked.Increment(ref _count);
        Interlocked.Add(ref _sum, ticks);
        long seen;
        while (ticks > (seen = Volatile.Read(ref _max)) && Interlocked.CompareExchange(ref _max, ticks, seen) != seen)
        {
        }
        while (ticks < (seen = Volatile.Read(ref _min)) && Interlocked.CompareExchange(ref _min, ticks, seen) != seen)
        {
        }
    }

    /// <summary>Adds every value recorded in <paramref name="other"/> to this histogram.</summary>
    public void Add(LatencyHistogram other)
    {
        for (int i = 0; i < _counts.Length; i++)
            _counts[i] += Volatile.Read(ref other._counts[i]);
        _count += other._count;
        _sum += other._sum;
        _min = Math.Min(_min, other._min);
        _max = Math.Max(_max, other._max);
    }

    internal static int IndexOf(long ticks)
    {
        if (ticks < LinearBuckets)
            return (int)ticks;
        int msb = 63 - BitOperations.LeadingZeroCount((ulong)ticks);
        int shift = msb - 7;
        return LinearBuckets + (shift - 1) * SubBuckets + (int)((ticks >> shift) - SubBuckets);
    }

    /// <summary>The middle of bucket <paramref name="index"/>'s range of values.</summary>
    internal static double MidpointOf(int index)
    {
        if (index < LinearBuckets)
            return index;
        int shift = (index - LinearBuckets) / SubBuckets + 1;
        long lower = (long)((index - LinearBuckets) % SubBuckets + SubBuckets) << shift;
        return lower + ((1L << shift) - 1) / 2.0;
    }

    /// <summary>Percentiles, mean and spread of what has been recorded so far.</summary>
    public LatencySummary Summarize()
    {
        var counts = new long[_counts.Length];
        long total = 0;
        for (int i = 0; i < counts.Length; i++)
            total += counts[i] = Volatile.Read(ref _counts[i]);
        if (total == 0)
            return LatencySummary.Empty;

        long min = Volatile.Read(ref _min), max = Volatile.Read(ref _max);
        double mean = (double)Volatile.Read(ref _sum) / Math.Max(1, Volatile.Read(ref _count));
        double squares = 0;
        for (int i = 0; i < counts.Length; i++)
        {
            if (counts[i] != 0)
            {
                double d = Clamp(MidpointOf(i), min, max) - mean;
                squares += d * d * counts[i];
            }
        }

        return new LatencySummary(
            total,
            ToMicroseconds(min),
            ToMicroseconds(mean),
            ToMicroseconds(Math.Sqrt(squares / total)),
            ToMicroseconds(Percentile(counts, total, 50, min, max)),
            ToMicroseconds(Percentile(counts, total, 90, min, max)),
            ToMicroseconds(Percentile(counts, total, 99, min, max)),
            ToMicroseconds(Percentile(counts, total, 99.9, min, max)),
            ToMicroseconds(max));
    }

    private static double Percentile(long[] counts, long total, double percentile, long min, long max)
    {
        long rank = Math.Max(1, (long)Math.Ceiling(percentile / 100 * total));
        long seen = 0;
        for (int i = 0; i < counts.Length; i++)
        {
            seen += counts[i];
            if (seen >= rank)
                return Clamp(MidpointOf(i), min, max);
        }
        return max;
    }

    private static double Clamp(double value, long min, long max) => Math.Min(Math.Max(value, min), max);

    private static double ToMicroseconds(double ticks) => ticks / (TimeSpan.TicksPerMillisecond / 1000.0);
}
