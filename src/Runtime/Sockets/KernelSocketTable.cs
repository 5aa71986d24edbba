using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace ShardRuntime.Runtime.Sockets;

/// <summary>
/// The kernel's view of a port, read from <c>/proc/net/{tcp,tcp6,udp,udp6}</c> of this process's network namespace:
/// which sockets are bound to it, in which state, and owned by whom. Used to explain a refused bind and to verify
/// that every shard of a reuseport group is really there (and how full its accept queue is). The listen backlog of
/// TCP listeners, which those files do not carry, is added from the sock_diag netlink interface when it is available.
/// </summary>
public static class KernelSocketTable
{
    private const string TcpListen = "0A";
    private const string UdpUnconnected = "07";

    /// <summary>
    /// The sockets listening on <paramref name="port"/>: TCP sockets in LISTEN, UDP sockets bound and not connected,
    /// from both the IPv4 and the IPv6 table, in table order.
    /// </summary>
    public static IReadOnlyList<KernelSocketEntry> ListListening(int port, TransportProtocol protocol) =>
        List(port, protocol).Where(IsListening).ToList();

    /// <summary>Every socket whose local port is <paramref name="port"/>, in any state (listeners, connections, TIME_WAIT).</summary>
    public static IReadOnlyList<KernelSocketEntry> List(int port, TransportProtocol protocol)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, IPEndPoint.MaxPort);

        string name = protocol == TransportProtocol.Tcp ? "tcp" : "udp";
        var entries = new List<KernelSocketEntry>();
        foreach (string path in new[] { $"/proc/net/{name}", $"/proc/net/{name}6" })
        {
            try
            {
                entries.AddRange(Parse(File.ReadLines(path), protocol).Where(e => e.LocalEndPoint.Port == port));
            }
            catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
            {
                // No IPv6 in this kernel or namespace: there is simply no tcp6/udp6 table.
            }
        }

        return protocol == TransportProtocol.Tcp ? WithListenBacklogs(entries, port) : entries;
    }

    /// <summary>
    /// The inode of <paramref name="socket"/> (the N of <c>socket:[N]</c> that <c>/proc/self/fd/FD</c> links to), which
    /// matches <see cref="KernelSocketEntry.Inode"/>. Also identifies a socket passed between processes: both fds share it.
    /// </summary>
    public static long GetInode(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        SafeHandle handle = socket.SafeHandle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            long fd = handle.DangerousGetHandle().ToInt64();
            string? target = new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
            if (target is null || !target.StartsWith("socket:[", StringComparison.Ordinal) || !target.EndsWith(']'))
            {
                throw new InvalidOperationException($"/proc/self/fd/{fd} links to '{target}', not to a socket.");
            }

            return long.Parse(target.AsSpan(8, target.Length - 9), NumberStyles.None, CultureInfo.InvariantCulture);
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// The processes that hold a descriptor of each of <paramref name="inodes"/>: found by reading the
    /// <c>/proc/PID/fd</c> links of every process this one may read (its own user's, or all for root). A socket passed
    /// between processes is held by each of them; an inode no readable process holds is absent from the result.
    /// </summary>
    public static IReadOnlyDictionary<long, IReadOnlyList<int>> FindProcesses(IEnumerable<long> inodes)
    {
        ArgumentNullException.ThrowIfNull(inodes);
        var wanted = inodes.ToHashSet();
        var found = new Dictionary<long, List<int>>();
        foreach (string directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            {
                continue;
            }

            try
            {
                foreach (string fd in Directory.EnumerateFileSystemEntries(Path.Combine(directory, "fd")))
                {
                    string? target = new FileInfo(fd).LinkTarget;
                    if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal) && target.EndsWith(']')
                        && long.TryParse(target.AsSpan(8, target.Length - 9), NumberStyles.None, CultureInfo.InvariantCulture, out long inode)
                        && wanted.Contains(inode))
                    {
                        if (!found.TryGetValue(inode, out var pids))
                        {
                            found[inode] = pids = [];
                        }

                        if (!pids.Contains(pid))
                        {
                            pids.Add(pid);
                        }
                    }
                }
            }
            catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
            {
                // Another user's process, or one that exited while we looked.
            }
        }

        return found.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<int>)kv.Value);
    }

    /// <summary>Fills in the listen backlog of TCP listeners, which only sock_diag netlink reports.</summary>
    private static List<KernelSocketEntry> WithListenBacklogs(List<KernelSocketEntry> entries, int port)
    {
        if (!entries.Any(e => e.State == "LISTEN") || InetDiag.ListenBacklogs(port) is not { } backlogs)
        {
            return entries;
        }

        return entries
            .Select(e => e.State == "LISTEN" && backlogs.TryGetValue(e.Inode, out int backlog) ? e with { Backlog = backlog } : e)
            .ToList();
    }

    /// <summary>True for a TCP socket in LISTEN or a bound, unconnected UDP socket.</summary>
    internal static bool IsListening(KernelSocketEntry entry) =>
        entry.State == (entry.Protocol == TransportProtocol.Tcp ? "LISTEN" : "UNCONN");

    /// <summary>Parses the text of one <c>/proc/net/{tcp,tcp6,udp,udp6}</c> table, header line included.</summary>
    internal static IEnumerable<KernelSocketEntry> Parse(IEnumerable<string> lines, TransportProtocol protocol)
    {
        bool header = true;
        foreach (string line in lines)
        {
            if (header)
            {
                header = false;
                continue;
            }

            // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
            string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 10)
            {
                continue;
            }

            IPEndPoint local = ParseEndPoint(f[1]);
            string stateHex = f[3];
            bool listening = protocol == TransportProtocol.Tcp && stateHex == TcpListen;
            int colon = f[4].IndexOf(':');
            int rxQueue = int.Parse(f[4].AsSpan(colon + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);

            // uid is printed unsigned; ids above int.MaxValue wrap, compare as uint.
            int uid = unchecked((int)uint.Parse(f[7], CultureInfo.InvariantCulture));
            long inode = long.Parse(f[9], CultureInfo.InvariantCulture);

            // For a listener rx_queue is the accept queue (sk_ack_backlog). Its tx_queue is always 0, not the backlog:
            // that comes from sock_diag (see InetDiag).
            yield return new KernelSocketEntry(
                local,
                protocol,
                StateName(stateHex, protocol),
                inode,
                uid,
                -1,
                listening ? rxQueue : -1);
        }
    }

    /// <summary>
    /// Parses <c>0100007F:1F90</c> (IPv4) or a 32-digit IPv6 address and port. The kernel prints each 32-bit word of
    /// the address as a host-order number, so on little-endian machines the bytes of every word appear reversed.
    /// </summary>
    internal static IPEndPoint ParseEndPoint(string text)
    {
        int colon = text.IndexOf(':');
        ReadOnlySpan<char> hex = text.AsSpan(0, colon);
        int port = int.Parse(text.AsSpan(colon + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        if (hex.Length != 8 && hex.Length != 32)
        {
            throw new FormatException($"'{text}' is not an address from /proc/net.");
        }

        Span<byte> bytes = stackalloc byte[hex.Length / 2];
        for (int word = 0; word < hex.Length / 8; word++)
        {
            uint value = uint.Parse(hex.Slice(word * 8, 8), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            MemoryMarshal.Write(bytes.Slice(word * 4, 4), in value);
        }

        return new IPEndPoint(new IPAddress(bytes), port);
    }

    private static string StateName(string hex, TransportProtocol protocol) => hex switch
    {
        "01" => "ESTABLISHED",
        "02" => "SYN_SENT",
        "03" => "SYN_RECV",
        "04" => "FIN_WAIT1",
        "05" => "FIN_WAIT2",
        "06" => "TIME_WAIT",
        UdpUnconnected => protocol == TransportProtocol.Udp ? "UNCONN" : "CLOSE",
        "08" => "CLOSE_WAIT",
        "09" => "LAST_ACK",
        TcpListen => "LISTEN",
        "0B" => "CLOSING",
        "0C" => "NEW_SYN_RECV",
        _ => hex,
    };
}
