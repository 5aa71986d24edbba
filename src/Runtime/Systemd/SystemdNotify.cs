using System.Net.Sockets;
using System.Text;

namespace ShardRuntime.Runtime.Systemd;

/// <summary>
/// sd_notify(3) without libsystemd: state lines sent as one datagram to $NOTIFY_SOCKET when systemd runs the node as a
/// Type=notify service. READY=1 once serving, STOPPING=1 when draining, RELOADING=1 around a reload, and MAINPID= when a
/// successor adopts the sockets: the old node, still the main process, names its successor between the successor's Ready and
/// its own Released, so systemd never sees the main process exit without a successor.
/// Does nothing without NOTIFY_SOCKET; a failure to send is logged by the caller, never fatal.
/// </summary>
public static class SystemdNotify
{
    /// <summary>Whether the process runs under systemd with <c>NOTIFY_SOCKET</c> set.</summary>
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

    /// <summary>Like <see cref="Notify"/>, but a failure to send is returned as its message instead of thrown (null: sent or no NOTIFY_SOCKET).</summary>
    public static string? TryNotify(string state)
    {
        try
        {
            Notify(state);
            return null;
        }
        catch (Exception e) when (e is SocketException or ArgumentException or IOException)
        {
            return e.Message;
        }
    }
}
