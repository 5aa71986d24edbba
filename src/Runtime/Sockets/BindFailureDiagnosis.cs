using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace ShardRuntime.Runtime.Sockets;

/// <summary>
/// Turns a <see cref="SocketException"/> from bind()/listen() into a <see cref="ListenerBindException"/> whose message
/// says plainly what holds the port. Assumes the refused socket itself asked for SO_REUSEPORT.
/// </summary>
internal static class BindFailureDiagnosis
{
    public static ListenerBindException Diagnose(IPEndPoint endPoint, TransportProtocol protocol, SocketException error)
    {
        string what = ListenerBindException.Describe(endPoint, protocol);
        return error.SocketErrorCode switch
        {
            SocketError.AddressAlreadyInUse => DiagnoseAddressInUse(endPoint, protocol, error),
            SocketError.AddressNotAvailable => new ListenerBindException(
                endPoint, protocol, BindFailure.AddressNotAvailable, error.SocketErrorCode,
                $"Cannot bind {what}: the address {endPoint.Address} is not assigned to any interface of this host (EADDRNOTAVAIL).",
                innerException: error),
            SocketError.AccessDenied => new ListenerBindException(
                endPoint, protocol, BindFailure.PermissionDenied, error.SocketErrorCode,
                $"Cannot bind {what}: permission denied (EACCES); ports below {UnprivilegedPortStart()} " +
                "(net.ipv4.ip_unprivileged_port_start) need root or the CAP_NET_BIND_SERVICE capability.",
                innerException: error),
            _ => new ListenerBindException(
                endPoint, protocol, BindFailure.Other, error.SocketErrorCode,
                $"Cannot bind {what}: {error.SocketErrorCode} ({error.Message}).",
                innerException: error),
        };
    }

    private static ListenerBindException DiagnoseAddressInUse(IPEndPoint endPoint, TransportProtocol protocol, SocketException error)
    {
        string what = ListenerBindException.Describe(endPoint, protocol);
        uint ourUid = ProcessIdentity.EffectiveUserId;

        IReadOnlyList<KernelSocketEntry> all;
        try
        {
            all = KernelSocketTable.List(endPoint.Port, protocol);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            all = [];
        }

        // Sockets that can conflict with ours: same or wildcard address, not TIME_WAIT (binding over that is allowed).
        var overlapping = all.Where(e => e.State != "TIME_WAIT" && Overlaps(e.LocalEndPoint.Address, endPoint.Address)).ToList();
        var listening = overlapping.Where(KernelSocketTable.IsListening).ToList();
        var candidates = listening.Count > 0 ? listening : overlapping;
        string hint = $" Find it with: ss -{(protocol == TransportProtocol.Tcp ? 't' : 'u')}lnpe 'sport = :{endPoint.Port}'.";

        if (candidates.FirstOrDefault(e => unchecked((uint)e.Uid) != ourUid) is { } foreign)
        {
            return new ListenerBindException(
                endPoint, protocol, BindFailure.PortHeldByOtherUser, error.SocketErrorCode,
                $"Cannot bind {what}: it is already bound by a socket of user {ProcessIdentity.DescribeUser(unchecked((uint)foreign.Uid))}" +
                $"{Where(foreign, endPoint)}; the kernel only lets sockets of the same effective user " +
                $"(uid {ourUid.ToString(CultureInfo.InvariantCulture)}) share a port with SO_REUSEPORT.{hint}",
                foreign, error);
        }

        if (candidates.FirstOrDefault() is { } own)
        {
            return new ListenerBindException(
                endPoint, protocol, BindFailure.PortHeldWithoutReuseport, error.SocketErrorCode,
                $"Cannot bind {what}: it is already bound by a socket of this user (uid {ourUid.ToString(CultureInfo.InvariantCulture)})" +
                $"{Where(own, endPoint)} that was bound without SO_REUSEPORT (another server?).{hint}",
                own, error);
        }

        string table = protocol == TransportProtocol.Tcp ? "tcp" : "udp";
        return new ListenerBindException(
            endPoint, protocol, BindFailure.AddressInUse, error.SocketErrorCode,
            $"Cannot bind {what}: the address is already in use (EADDRINUSE), but /proc/net/{table} and /proc/net/{table}6 " +
            $"show no socket on port {endPoint.Port} that explains it (one that has just closed, or in another network namespace?).",
            innerException: error);
    }

    /// <summary>" on 0.0.0.0:8080" when the holder's address differs from ours, plus its state when it is not a listener.</summary>
    private static string Where(KernelSocketEntry holder, IPEndPoint ours)
    {
        string text = holder.LocalEndPoint.Address.Equals(ours.Address) ? "" : $" on {holder.LocalEndPoint}";
        return KernelSocketTable.IsListening(holder) ? text : $"{text} (state {holder.State})";
    }

    /// <summary>True when two bound addresses can compete for a port: equal, or either is a wildcard.</summary>
    internal static bool Overlaps(IPAddress theirs, IPAddress ours)
    {
        IPAddress a = theirs.IsIPv4MappedToIPv6 ? theirs.MapToIPv4() : theirs;
        IPAddress b = ours.IsIPv4MappedToIPv6 ? ours.MapToIPv4() : ours;
        return a.Equals(b) || IsWildcard(a) || IsWildcard(b);
    }

    private static bool IsWildcard(IPAddress address) => address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any);

    private static int UnprivilegedPortStart()
    {
        try
        {
            return int.Parse(File.ReadAllText("/proc/sys/net/ipv4/ip_unprivileged_port_start").Trim(), CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            return 1024;
        }
    }
}
