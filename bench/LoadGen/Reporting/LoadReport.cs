using ShardRuntime.LoadGen.Run;

namespace ShardRuntime.LoadGen.Reporting;

/// <summary>
/// What a <see cref="LoadRun"/> saw: attempts by outcome for each mode and in total, latency of the successful ones,
/// error names, wrong-reply reasons and generation header values. Also the progress snapshot while a run is going.
/// </summary>
public sealed record LoadReport
{
    public required LoadOptions Options { get; init; }

    public required DateTimeOffset StartedAt { get; init; }

    public required DateTimeOffset EndedAt { get; init; }

    /// <summary>From the first attempt to the end of the last one.</summary>
    public required TimeSpan Elapsed { get; init; }

    /// <summary>Churn attempts; null when churn did not run.</summary>
    public ModeReport? Churn { get; init; }

    /// <summary>Keep-alive attempts; null when keep-alive did not run.</summary>
    public ModeReport? KeepAlive { get; init; }

    /// <summary>UDP queries by outcome (answered = succeeded, lost = timed_out); null when the run was not UDP.</summary>
    public ModeReport? Udp { get; init; }

    /// <summary>UDP: sent, answered, lost, duplicated, late and unmatched datagrams; null when the run was not UDP.</summary>
    public DatagramReport? Datagrams { get; init; }

    /// <summary>All attempts.</summary>
    public required ModeReport Total { get; init; }

    /// <summary>Churn starts (UDP: sends) that were due while <see cref="LoadOptions.MaxInFlight"/> were in flight (not attempts).</summary>
    public long SkippedStarts { get; init; }

    /// <summary>Names of the errors counted as <see cref="Outcome.OtherError"/>, with their counts.</summary>
    public required IReadOnlyDictionary<string, long> OtherErrors { get; init; }

    /// <summary>Why replies were wrong, with their counts.</summary>
    public required IReadOnlyDictionary<string, long> WrongReplyReasons { get; init; }

    /// <summary>Values of the generation header in order of first appearance; empty without --generation-header.</summary>
    public required IReadOnlyList<GenerationCount> Generations { get; init; }

    /// <summary>Successful replies without the generation header (with --generation-header).</summary>
    public long RepliesWithoutGeneration { get; init; }

    /// <summary>Connections whose replies carried more than one generation value.</summary>
    public long MixedGenerationConnections { get; init; }

    /// <summary>True while the run is still going (a progress snapshot).</summary>
    public bool InProgress { get; init; }

    /// <summary>
    /// Attempts that did not succeed, and for UDP also replies beyond the first or naming no query: the count that
    /// <c>--fail-on-errors</c> and the result line go by.
    /// </summary>
    public long Problems => Total.Failed + (Datagrams is { } d ? d.Duplicated + d.Late + d.Unmatched : 0);

    /// <summary>Successful attempts per second.</summary>
    public double SucceededPerSecond => Elapsed > TimeSpan.Zero ? Total.Succeeded / Elapsed.TotalSeconds : 0;
}
