using System.Net;
using System.Net.Sockets;
using ShardRuntime.Runtime.Sockets;

namespace ShardRuntime.Runtime.Upgrade;

/// <summary>
/// Compares a socket with its label: address family (SO_DOMAIN), type (SO_TYPE), listening state (SO_ACCEPTCONN), the
/// bound endpoint and the inode. The sender checks before it passes a socket, the successor before it adopts one.
/// </summary>
internal static class SocketLabelCheck
{
    private const int SoType = 3;
    private const int SoDomain = 39;
    private const int SockStream = 1;
    private const int SockDgram = 2;
    private const int AfInet = 2;
    private const int AfInet6 = 10;

    /// <summary>What differs between <paramref name="socket"/> and <paramref name="label"/>, or null when nothing does.</summary>
    /// <param name="socket">The socket as the kernel describes it.</param>
    /// <param name="label">What the other process said the socket is.</param>
    /// <param name="checkInode">False on the sending side, where the label's inode is filled in from the socket.</param>
    public static string? Mismatch(Socket socket, SocketLabel label, bool checkInode = true)
    {
        var differences = new List<string>();
        int domain = SocketOptionsNative.GetInt(socket, SoDomain);
        int expectedDomain = label.EndPoint.AddressFamily == AddressFamily.InterNetworkV6 ? AfInet6 : AfInet;
        if (domain != expectedDomain)
        {
            differences.Add($"address family is {Family(domain)}, the label says {Family(expectedDomain)}");
        }

        int type = SocketOptionsNative.GetInt(socket, SoType);
        int expectedType = label.Protocol == TransportProtocol.Tcp ? SockStream : SockDgram;
        if (type != expectedType)
        {
            differences.Add($"socket type is {Type(type)}, the label says {Type(expectedType)} ({label.Protocol})");
        }

        bool listening = SocketOptionsNative.IsListening(socket);
        if (listening != (label.Protocol == TransportProtocol.Tcp))
        {
            differences.Add(listening ? "the socket is listening, a UDP label expects a bound datagram socket" : "the socket is not listening");
        }

        var local = socket.LocalEndPoint as IPEndPoint;
        if (local is null || !local.Equals(label.EndPoint))
        {
            differences.Add($"it is bound to {local?.ToString() ?? "nothing"}, the label says {label.EndPoint}");
        }

        if (checkInode)
        {
            long inode = KernelSocketTable.GetInode(socket);
            if (inode != label.Inode)
            {
                differences.Add($"its inode is {inode}, the label says {label.Inode}");
            }
        }

        return differences.Count == 0 ? null : $"Socket {label}: {string.Join("; ", differences)}.";
    }

    private static string Family(int domain) => domain switch
    {
        AfInet => "AF_INET",
        AfInet6 => "AF_INET6",
        _ => $"family {domain}",
    };

    private static string Type(int type) => type switch
    {
        SockStream => "SOCK_STREAM",
        SockDgram => "SOCK_DGRAM",
        _ => $"type {type}",
    };
}
