using ShardRuntime.LoadGen.Reporting;

namespace ShardRuntime.LoadGen.Tests;

public sealed class LatencyHistogramSpecs
{
    [Fact]
    public void Percentiles_must_be_within_one_percent_of_the_recorded_values()
    {
        var histogram = new LatencyHistogram();
        // 1..10000 µs, each once.
        for (int us = 1; us <= 10_000; us++)
            histogram.Record(us * 10L);

        var summary = histogram.Summarize();

        Assert.Equal(10_000, summary.Count);
        Assert.Equal(1, summary.MinUs);
        Assert.Equal(10_000, summary.MaxUs);
        Assert.Equal(5000.5, summary.MeanUs, 3);
        Assert.InRange(summary.P50Us, 5000 * 0.99, 5000 * 1.01);
        Assert.InRange(summary.P90Us, 9000 * 0.99, 9000 * 1.01);
        Assert.InRange(summary.P99Us, 9900 * 0.99, 9900 * 1.01);
        Assert.InRange(summary.P999Us, 9990 * 0.99, 10_000);
        // The standard deviation of 1..n is about n / sqrt(12).
        Assert.InRange(summary.StdDevUs, 2886.75 * 0.99, 2886.75 * 1.01);
    }

    [Fact]
    public void Bucket_indexes_must_grow_with_the_value_and_hold_it()
    {
        int previous = -1;
        for (long ticks = 0; ticks < 1L << 40; ticks = ticks < 1000 ? ticks + 1 : ticks + ticks / 97)
        {
            int index = LatencyHistogram.IndexOf(ticks);
            Assert.True(index >= previous, $"index of {ticks} went down");
            Assert.InRange(LatencyHistogram.MidpointOf(index), ticks * 0.99 - 1, ticks * 1.01 + 1);
            previous = index;
        }
    }

    [Fact]
    public void An_empty_histogram_must_summarize_to_zeroes() =>
        Assert.Equal(LatencySummary.Empty, new LatencyHistogram().Summarize());
}
