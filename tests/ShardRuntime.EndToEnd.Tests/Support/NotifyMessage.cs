namespace ShardRuntime.EndToEnd.Tests.Support;

/// <summary>
/// One sd_notify datagram: who sent it (SCM_CREDENTIALS), its newline-separated assignments, and when the kernel queued
/// it (SO_TIMESTAMP, wall clock).
/// </summary>
internal sealed record NotifyMessage(int SenderPid, string State, DateTimeOffset QueuedAt)
{
    public IReadOnlyList<string> Assignments => State.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Whether the datagram carries exactly this assignment, e.g. <c>READY=1</c>.</summary>
    public bool Says(string assignment) => Assignments.Contains(assignment);

    public override string ToString() => $"pid {SenderPid}: {State.Replace('\n', ' ')}";
}
