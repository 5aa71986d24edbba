using ShardRuntime.LoadGen.Run;

namespace ShardRuntime.LoadGen.Reporting;

/// <summary>The attempts of one mode (or of all modes), by outcome, and the latency of the successful ones.</summary>
public sealed record ModeReport(
    long Succeeded,
    long Refused,
    long Reset,
    long Closed,
    long TimedOut,
    long WrongReply,
    long OtherError,
    long ConnectionsOpened,
    LatencySummary Latency)
{
    /// <summary>Every attempt that ended.</summary>
    public long Attempts => Succeeded + Failed;

    /// <summary>Every attempt that did not succeed.</summary>
    public long Failed => Refused + Reset + Closed + TimedOut + WrongReply + OtherError;

    /// <summary>The count of one outcome.</summary>
    public long this[Outcome outcome] => outcome switch
    {
        Outcome.Succeeded => Succeeded,
        Outcome.Refused => Refused,
        Outcome.Reset => Reset,
        Outcome.Closed => Closed,
        Outcome.TimedOut => TimedOut,
        Outcome.WrongReply => WrongReply,
        Outcome.OtherError => OtherError,
        _ => throw new ArgumentOutOfRangeException(nameof(outcome)),
    };
}
