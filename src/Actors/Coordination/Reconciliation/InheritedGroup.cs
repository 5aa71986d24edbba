using System.Net;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Upgrade;
using ShardRuntime.Runtime.Sockets;

namespace ShardRuntime.Actors.Coordination.Reconciliation;

/// <summary>
/// Inherited listening sockets (from a predecessor process or systemd) on one endpoint, not adopted yet: one kernel
/// reuseport group, which a listener adopts whole or not at all.
/// </summary>
/// <param name="EndPoint">The endpoint they are bound to (a real port).</param>
/// <param name="Protocol">Their transport.</param>
/// <param name="ReusePort">
/// The group's first socket has SO_REUSEPORT. Without it (a systemd .socket unit without ReusePort=yes) no socket can
/// join the group, so a listener that wants more shards than the group has must be refused.
/// </param>
/// <param name="Sockets">Their labels, in the group's kernel order (position, then shard index).</param>
internal sealed record InheritedGroup(IPEndPoint EndPoint, TransportProtocol Protocol, bool ReusePort, IReadOnlyList<SocketLabel> Sockets)
{
    /// <summary>
    /// Groups <paramref name="labels"/> by endpoint and protocol, in the order each group first appears, each in kernel
    /// order (known positions first, then by shard index); <paramref name="reusePort"/> is asked about each group's first socket.
    /// </summary>
    public static IReadOnlyList<InheritedGroup> Of(IEnumerable<SocketLabel> labels, Func<SocketLabel, bool> reusePort) =>
        labels
            .GroupBy(l => (l.EndPoint, l.Protocol))
            .Select(g => g.OrderBy(l => l.Position < 0 ? int.MaxValue : l.Position).ThenBy(l => l.ShardIndex).ToList())
            .Select(sockets => new InheritedGroup(sockets[0].EndPoint, sockets[0].Protocol, reusePort(sockets[0]), sockets))
            .ToList();

    /// <summary>
    /// Whether <paramref name="settings"/> takes this group: same protocol and, for a fixed port, the same endpoint; for
    /// port 0, a socket labelled with the listener's name on the same address.
    /// </summary>
    public bool IsFor(ListenerSettings settings) =>
        Protocol == settings.Protocol && (settings.EndPoint.Port != 0
            ? EndPoint.Equals(settings.EndPoint)
            : EndPoint.Address.Equals(settings.EndPoint.Address) && Sockets.Any(l => l.Listener == settings.Name));

    /// <inheritdoc />
    public override string ToString() =>
        $"{Coordinator.Describe(EndPoint, Protocol)} (inodes {string.Join(", ", Sockets.Select(s => s.Inode))}{(ReusePort ? "" : ", no SO_REUSEPORT")})";
}
