using ShardRuntime.LoadGen.Run;

namespace ShardRuntime.LoadGen.Reporting;

/// <summary>The live, thread-safe tallies of one mode.</summary>
internal sealed class ModeCounters
{
    private readonly long[] _outcomes = new long[Enum.GetValues<Outcome>().Length];
    private long _connectionsOpened;

    public LatencyHistogram Latency { get; } = new();

    public void Record(Outcome outcome, long count = 1) => Interlocked.Add(ref _outcomes[(int)outcome], count);

    public void ConnectionOpened() => Interlocked.Increment(ref _connectionsOpened);

    public long this[Outcome outcome] => Volatile.Read(ref _outcomes[(int)outcome]);

    public long Attempts
    {
        get
        {
            long sum = 0;
            for (int i = 0; i < _outcomes.Length; i++)
                sum += Volatile.Read(ref _outcomes[i]);
            return sum;
        }
    }

    public ModeReport ToReport() => ToReport([this]);

    public static ModeReport ToReport(IReadOnlyList<ModeCounters> modes)
    {
        long Sum(Outcome o) => modes.Sum(m => m[o]);
        LatencySummary latency;
        if (modes.Count == 1)
        {
            latency = modes[0].Latency.Summarize();
        }
        else
        {
            var merged = new LatencyHistogram();
            foreach (var mode in modes)
                merged.Add(mode.Latency);
            latency = merged.Summarize();
        }
        return new ModeReport(
            Sum(Outcome.Succeeded), Sum(Outcome.Refused), Sum(Outcome.Reset), Sum(Outcome.Closed), Sum(Outcome.TimedOut),
            Sum(Outcome.WrongReply), Sum(Outcome.OtherError), modes.Sum(m => Volatile.Read(ref m._connectionsOpened)), latency);
    }
}
