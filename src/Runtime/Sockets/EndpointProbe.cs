using System.Net.Sockets;

namespace ShardRuntime.Runtime.Sockets;

/// <summary>
/// Whether a listener's endpoint could be bound now, without serving it (<c>shardruntime check</c>): a socket is created
/// and bound exactly as <see cref="ReuseportSocketFactory"/> does (SO_REUSEPORT, SO_REUSEADDR for TCP), then closed at
/// once. A TCP socket is not put into listen(): bound but not listening it passes the kernel's bind checks (a socket of
/// another user, or one without SO_REUSEPORT, refuses it there) yet joins no reuseport group, so a running node's
/// connections cannot land in its queue and be reset when it closes. A refusal carries
/// <see cref="ListenerBindException"/>'s diagnosis; a success also says which listening sockets (of this user, with
/// SO_REUSEPORT) already serve the port and the processes that hold them: the group a node would join.
/// </summary>
public static class EndpointProbe
{
    /// <summary>Binds and closes a socket for <paramref name="options"/>; see <see cref="EndpointProbeResult"/>.</summary>
    public static EndpointProbeResult Probe(ListenerSocketOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        try
        {
            using Socket socket = ReuseportSocketFactory.Open(options, listen: false);
        }
        catch (ListenerBindException refused)
        {
            return new EndpointProbeResult(options, refused, [], []);
        }

        if (options.EndPoint.Port == 0)
        {
            return new EndpointProbeResult(options, null, [], []);
        }

        IReadOnlyList<KernelSocketEntry> sharing;
        try
        {
            sharing = KernelSocketTable.ListListening(options.EndPoint.Port, options.Protocol)
                .Where(e => BindFailureDiagnosis.Overlaps(e.LocalEndPoint.Address, options.EndPoint.Address))
                .ToList();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            sharing = [];
        }

        var processes = sharing.Count == 0
            ? []
            : KernelSocketTable.FindProcesses(sharing.Select(e => e.Inode)).Values.SelectMany(p => p).Distinct().Order().ToList();
        return new EndpointProbeResult(options, null, sharing, processes);
    }
}
