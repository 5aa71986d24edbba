namespace ShardRuntime.LoadGen.Reporting;

/// <summary>
/// The datagram side of a UDP run. Every sent query ends answered (the right reply first), wrong (a wrong reply
/// first), lost (no reply within the timeout) or failed (the send failed: refused or another error, see the mode's
/// counters); <see cref="InFlight"/> are not ended yet. Replies beyond the first are counted apart.
/// </summary>
/// <param name="Flows">Client sockets (distinct source ports).</param>
/// <param name="Sent">Queries handed to the kernel, plus those whose send failed.</param>
/// <param name="Answered">Queries whose first reply was the right one.</param>
/// <param name="Lost">Queries without a reply within the timeout.</param>
/// <param name="Wrong">Queries whose first reply was wrong.</param>
/// <param name="Duplicated">Second (third, ...) replies to a query that had its reply.</param>
/// <param name="Late">Replies to a query already counted as lost, or whose send had failed.</param>
/// <param name="Unmatched">Datagrams that name no query sent on their flow.</param>
/// <param name="PortUnreachable">ICMP port-unreachable errors reported to a flow's receive (no socket on the target port).</param>
/// <param name="InFlight">Queries sent and not ended when the report was taken.</param>
/// <param name="MaxInFlight">The most queries in flight at once during the run.</param>
public sealed record DatagramReport(
    int Flows,
    long Sent,
    long Answered,
    long Lost,
    long Wrong,
    long Duplicated,
    long Late,
    long Unmatched,
    long PortUnreachable,
    long InFlight,
    long MaxInFlight);
