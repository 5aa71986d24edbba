using System.Net.Sockets;
using System.Text;

namespace ShardRuntime.Host.Node;

/// <summary>
/// sd_notify(3) without libsystemd: state lines sent as one datagram to $NOTIFY_SOCKET when systemd runs the node as a
/// Type=notify service. READY=1 once serving, STOPPING=1 when draining, RELOADING=1 around a reload, and MAINPID= when a
/// successor takes over (systemd accepts that from a process other than the main one with NotifyAccess=all).
/// Does nothing without NOTIFY_SOCKET; a failure to send is logged by the caller, never fatal.
/// </summary>
internal static class SystemdNotify
{
    public static bool Enabled => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NOTIFY_SOCKET"));

    /// <summary>Sends <paramref name="state"/> (newline-separated assignments); false when there is no NOTIFY_SOCKET.</summary>
    public static bool Notify(string state)
    {
        var path = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
        if (string.IsNullOrEmpty(path)) return false;
        // An abstract socket is written with a leading '@'; on the wire its name starts with a NUL byte.
        if (path[0] == '@') path = "\0" + path[1..];
        using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.SendTo(Encoding.UTF8.GetBytes(state), new UnixDomainSocketEndPoint(path));
        return true;
    }
}
