using System.Globalization;

namespace ShardRuntime.Runtime.Sockets;

/// <summary>
/// Which processes hold a descriptor of given sockets: every <c>/proc/PID/fd/N</c> link to <c>socket:[inode]</c> that
/// this process may read (its own user's processes; all of them as root). The kernel's table names a socket, its
/// state and its owner's uid, not who holds it; this is how a copy left in another process (a successor that was
/// rolled back but runs on) is found.
/// </summary>
public static class SocketHolders
{
    /// <summary>The processes other than <paramref name="exceptProcessId"/> holding one of <paramref name="inodes"/>, with the inode each holds.</summary>
    public static IReadOnlyList<(int ProcessId, long Inode)> Find(IReadOnlySet<long> inodes, int exceptProcessId)
    {
        ArgumentNullException.ThrowIfNull(inodes);
        var found = new List<(int, long)>();
        if (inodes.Count == 0) return found;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid == exceptProcessId)
                continue;
            try
            {
                foreach (var fd in Directory.EnumerateFileSystemEntries(Path.Combine(directory, "fd")))
                {
                    var target = new FileInfo(fd).LinkTarget;
                    if (target is null || !target.StartsWith("socket:[", StringComparison.Ordinal) || !target.EndsWith(']')) continue;
                    if (long.TryParse(target.AsSpan(8, target.Length - 9), NumberStyles.None, CultureInfo.InvariantCulture, out var inode) && inodes.Contains(inode))
                        found.Add((pid, inode));
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone meanwhile, or another user's process: not readable here.
            }
        }
        return found;
    }
}
