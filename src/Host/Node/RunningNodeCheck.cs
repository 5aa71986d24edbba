using System.Net;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Sockets;
using ControlProtocol = ShardRuntime.Actors.ControlSocket.Control;

namespace ShardRuntime.Host.Node;

/// <summary>
/// Before a node binds anything (and before it takes systemd's sockets): is its configuration served already by a running
/// node of this user? A live node on its control socket path, or a listening socket of another process on one of its
/// fixed-port endpoints that a listener bound now would silently join (SO_REUSEPORT, same uid: it would take half the
/// connections). Either refuses the start, naming the path or endpoint and the pid. Not asked for a successor
/// (<c>run --upgrade-from</c>), whose predecessor holds both by design; sockets this process holds itself (systemd's) are
/// its own. Port-0 endpoints cannot collide.
/// </summary>
internal static class RunningNodeCheck
{
    /// <summary>Why this node must not start, or null when nothing of its configuration is served already.</summary>
    public static async Task<string?> FindAsync(ShardRuntimeSettings settings)
    {
        if (settings.Control.Enabled)
        {
            int? pid;
            try
            {
                pid = await ControlProtocol.ServedByAsync(settings.Control.SocketPath, settings.Control.RequestTimeout);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                pid = null; // cannot tell: the control socket's own bind says why later
            }
            if (pid is not null)
                return $"a node ({(pid > 0 ? $"pid {pid}" : "pid unknown")}) already serves the control socket {settings.Control.SocketPath}: " +
                       "this configuration is running already. Stop that node, use `shardruntime upgrade` to replace it, or give this " +
                       "one another control socket (--control-socket) and other listeners";
        }

        var fixedPorts = settings.Listeners.Where(l => l.EndPoint.Port != 0).Select(l => (l.EndPoint.Port, l.Protocol)).Distinct();
        var ownUid = (int)ProcessIdentity.EffectiveUserId;
        var listening = fixedPorts.SelectMany(p => KernelSocketTable.ListListening(p.Port, p.Protocol)).Where(e => e.Uid == ownUid).ToList();
        if (listening.Count == 0) return null;
        var owners = SocketOwners.Find(listening.Select(e => e.Inode).ToList());
        foreach (var held in ForeignHolders(settings.Listeners, listening, owners, Environment.ProcessId))
        {
            if (!ReuseportJoinProbe.WouldJoin(held.EndPoint, held.Socket.Protocol)) continue; // its bind fails and says why
            var pids = held.Pids.Count == 0 ? "a process this user cannot see" : "pid " + string.Join(", pid ", held.Pids);
            return $"listener '{held.Listener}' on {held.EndPoint}: {pids} listens on {held.Socket.LocalEndPoint} with SO_REUSEPORT as this user, " +
                   "so this node would silently share its connections. Is this configuration running already? Stop that process, use " +
                   "`shardruntime upgrade` to replace a node, or give this one other endpoints";
        }
        return null;
    }

    /// <summary>A fixed-port endpoint of listener <paramref name="Listener"/> covered by a listening socket of other processes only.</summary>
    internal sealed record Holder(string Listener, IPEndPoint EndPoint, KernelSocketEntry Socket, IReadOnlyList<int> Pids);

    /// <summary>
    /// The listening sockets of <paramref name="listening"/> that cover a fixed-port endpoint of <paramref name="listeners"/>
    /// (same port and protocol; same address, or either one the wildcard) and that this process
    /// (<paramref name="ownPid"/>) does not hold itself, with the pids holding them (empty: none this user may see).
    /// </summary>
    internal static IReadOnlyList<Holder> ForeignHolders(
        IEnumerable<ListenerSettings> listeners, IEnumerable<KernelSocketEntry> listening,
        IReadOnlyDictionary<long, IReadOnlyList<int>> owners, int ownPid)
    {
        var holders = new List<Holder>();
        var entries = listening.ToList();
        foreach (var listener in listeners.Where(l => l.EndPoint.Port != 0))
        {
            foreach (var entry in entries.Where(e => e.Protocol == listener.Protocol && Covers(listener.EndPoint, e.LocalEndPoint)))
            {
                var pids = owners.TryGetValue(entry.Inode, out var found) ? found : [];
                if (pids.Contains(ownPid)) continue; // this process's own (systemd passed it)
                holders.Add(new Holder(listener.Name, listener.EndPoint, entry, pids));
            }
        }
        return holders;
    }

    private static bool Covers(IPEndPoint ours, IPEndPoint theirs)
    {
        var address = theirs.Address.IsIPv4MappedToIPv6 ? theirs.Address.MapToIPv4() : theirs.Address;
        return ours.Port == theirs.Port && ours.AddressFamily == address.AddressFamily
            && (ours.Address.Equals(address) || IsWildcard(ours.Address) || IsWildcard(address));
    }

    private static bool IsWildcard(IPAddress address) => address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any);
}
