using System.Globalization;
using System.Net;
using ShardRuntime.Runtime.Sockets;

namespace ShardRuntime.Actors.Coordination;

/// <summary>
/// After a successor was given up: does any other process hold a socket of this node's listeners? Sockets listening
/// on a listener's endpoint that are not this node's (a successor bound them), and copies of this node's sockets in
/// another process (<c>/proc/PID/fd</c>), would sit in the reuseport groups with nobody accepting on them.
/// </summary>
internal static class ForeignSockets
{
    /// <summary>Reads the kernel's table and the processes' descriptors; the finding in words, or null when nobody else holds any.</summary>
    public static string? Find(IReadOnlySet<long> ours, IReadOnlyList<(IPEndPoint EndPoint, TransportProtocol Protocol)> endpoints)
    {
        var uid = unchecked((int)ProcessIdentity.EffectiveUserId);
        var listening = endpoints
            .SelectMany(e => KernelSocketTable.ListListening(e.EndPoint.Port, e.Protocol).Where(k => k.Uid == uid && SameEndPoint(k.LocalEndPoint, e.EndPoint)))
            .ToList();
        var inodes = ours.Concat(listening.Select(k => k.Inode)).ToHashSet();
        return Describe(ours, listening, SocketHolders.Find(inodes, Environment.ProcessId));
    }

    /// <summary>The finding in words (null: nothing foreign): listeners that are not <paramref name="ours"/>, and other holders.</summary>
    public static string? Describe(IReadOnlySet<long> ours, IReadOnlyList<KernelSocketEntry> listening, IReadOnlyList<(int ProcessId, long Inode)> holders)
    {
        var findings = new List<string>();
        foreach (var entry in listening.Where(e => !ours.Contains(e.Inode)).DistinctBy(e => e.Inode))
        {
            var by = holders.Where(h => h.Inode == entry.Inode).Select(h => h.ProcessId.ToString(CultureInfo.InvariantCulture)).Distinct().ToList();
            findings.Add($"socket inode {entry.Inode} listens on {entry.LocalEndPoint} and is not this node's (held by {(by.Count > 0 ? "pid " + string.Join(", ", by) : "a process not readable here")})");
        }
        foreach (var group in holders.Where(h => ours.Contains(h.Inode)).GroupBy(h => h.ProcessId).OrderBy(g => g.Key))
            findings.Add($"pid {group.Key} holds copies of this node's socket inode(s) {string.Join(", ", group.Select(h => h.Inode).Distinct().Order())}");
        return findings.Count == 0 ? null : "foreign holders: " + string.Join("; ", findings);
    }

    private static bool SameEndPoint(IPEndPoint kernel, IPEndPoint bound) =>
        kernel.Port == bound.Port && (kernel.Address.Equals(bound.Address) ||
                                      (kernel.Address.IsIPv4MappedToIPv6 && kernel.Address.MapToIPv4().Equals(bound.Address)));
}
