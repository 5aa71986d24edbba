namespace ShardRuntime.LoadGen.Reporting;

/// <summary>Latency of the successful attempts, in microseconds.</summary>
public sealed record LatencySummary(
    long Count, double MinUs, double MeanUs, double StdDevUs, double P50Us, double P90Us, double P99Us, double P999Us, double MaxUs)
{
    public static LatencySummary Empty { get; } = new(0, 0, 0, 0, 0, 0, 0, 0, 0);
}
