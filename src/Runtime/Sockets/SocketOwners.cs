using System.Globalization;

namespace ShardRuntime.Runtime.Sockets;

/// <summary>
/// Which processes hold given sockets: the pids whose <c>/proc/PID/fd</c> has a link to <c>socket:[inode]</c>. Only
/// processes whose fd directory this process may read are seen (its own user's; every process for root), so a socket
/// of another user's process has no owner here.
/// </summary>
public static class SocketOwners
{
    /// <summary>The pids holding each of <paramref name="inodes"/> (an inode no readable process holds is left out).</summary>
    public static IReadOnlyDictionary<long, IReadOnlyList<int>> Find(IReadOnlyCollection<long> inodes)
    {
        ArgumentNullException.ThrowIfNull(inodes);
        var owners = new Dictionary<long, List<int>>();
        if (inodes.Count == 0) return new Dictionary<long, IReadOnlyList<int>>();
        var wanted = inodes.ToHashSet();
        foreach (var process in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(process), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) continue;
            IEnumerable<string> fds;
            try
            {
                fds = Directory.EnumerateFiles(Path.Combine(process, "fd")).ToList();
            }
            catch (Exception e) when (e is UnauthorizedAccessException or IOException)
            {
                continue; // another user's process, or one that just exited
            }
            foreach (var fd in fds)
            {
                if (InodeOf(fd) is { } inode && wanted.Contains(inode))
                {
                    if (!owners.TryGetValue(inode, out var pids)) owners[inode] = pids = [];
                    if (!pids.Contains(pid)) pids.Add(pid);
                }
            }
        }
        return owners.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<int>)kv.Value);
    }

    /// <summary>The N of a <c>socket:[N]</c> link, or null for anything else (or a descriptor closed meanwhile).</summary>
    private static long? InodeOf(string fdLink)
    {
        string? target;
        try
        {
            target = new FileInfo(fdLink).LinkTarget;
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            return null;
        }
        return target is not null && target.StartsWith("socket:[", StringComparison.Ordinal) && target.EndsWith(']')
               && long.TryParse(target.AsSpan(8, target.Length - 9), NumberStyles.None, CultureInfo.InvariantCulture, out var inode)
            ? inode
            : null;
    }
}
