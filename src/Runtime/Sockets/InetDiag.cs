using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace ShardRuntime.Runtime.Sockets;

/// <summary>
/// The listen backlog of TCP listeners, from the kernel's sock_diag netlink interface (what <c>ss -l</c> prints as
/// Send-Q). <c>/proc/net/tcp</c> does not carry it: for a listener its tx_queue column is always 0.
/// </summary>
internal static partial class InetDiag
{
    private const int AfNetlink = 16;
    private const int AfInet = 2;
    private const int AfInet6 = 10;
    private const int SockRaw = 3;
    private const int SockCloexec = 0x80000;
    private const int NetlinkSockDiag = 4;
    private const ushort SockDiagByFamily = 20;
    private const ushort NlmFRequest = 0x1;
    private const ushort NlmFDump = 0x300;
    private const ushort NlmsgError = 2;
    private const ushort NlmsgDone = 3;
    private const int NlmsgHeaderLength = 16;
    private const int InetDiagReqV2Length = 56;
    private const int InetDiagMsgLength = 72;
    private const byte IpProtoTcp = 6;
    private const int TcpListenState = 10;
    private const int Eintr = 4;

    /// <summary>
    /// Maps the inode of every TCP listener on <paramref name="port"/> (IPv4 and IPv6) to its listen backlog
    /// (sk_max_ack_backlog), or returns null when sock_diag cannot be used here.
    /// </summary>
    public static Dictionary<long, int>? ListenBacklogs(int port)
    {
        int fd = Socket(AfNetlink, SockRaw | SockCloexec, NetlinkSockDiag);
        if (fd < 0)
        {
            return null;
        }

        try
        {
            var backlogs = new Dictionary<long, int>();
            return Dump(fd, AfInet, port, backlogs) && Dump(fd, AfInet6, port, backlogs) ? backlogs : null;
        }
        finally
        {
            Close(fd);
        }
    }

    private static bool Dump(int fd, byte family, int port, Dictionary<long, int> backlogs)
    {
        // struct nlmsghdr + struct inet_diag_req_v2, asking for every TCP socket in LISTEN of this family.
        // Netlink fields are in host byte order, the socket id's ports in network order.
        Span<byte> request = stackalloc byte[NlmsgHeaderLength + InetDiagReqV2Length];
        request.Clear();
        BitConverter.TryWriteBytes(request, (uint)request.Length);
        BitConverter.TryWriteBytes(request[4..], SockDiagByFamily);
        BitConverter.TryWriteBytes(request[6..], (ushort)(NlmFRequest | NlmFDump));
        BitConverter.TryWriteBytes(request[8..], 1u); // sequence number
        request[16] = family;
        request[17] = IpProtoTcp;
        BitConverter.TryWriteBytes(request[20..], 1u << TcpListenState);
        if (Send(fd, request) != request.Length)
        {
            return false;
        }

        byte[] buffer = new byte[32 * 1024];
        while (true)
        {
            int length = (int)Receive(fd, buffer);
            if (length <= 0)
            {
                return false;
            }

            int offset = 0;
            while (offset + NlmsgHeaderLength <= length)
            {
                ReadOnlySpan<byte> message = buffer.AsSpan(offset, length - offset);
                int messageLength = (int)BitConverter.ToUInt32(message);
                ushort type = BitConverter.ToUInt16(message[4..]);
                if (type == NlmsgDone)
                {
                    return true;
                }

                if (type == NlmsgError || messageLength < NlmsgHeaderLength || messageLength > message.Length)
                {
                    return false;
                }

                if (messageLength >= NlmsgHeaderLength + InetDiagMsgLength)
                {
                    // struct inet_diag_msg: id.idiag_sport at 4, idiag_wqueue at 60, idiag_inode at 68.
                    ReadOnlySpan<byte> diag = message.Slice(NlmsgHeaderLength, InetDiagMsgLength);
                    if (BinaryPrimitives.ReadUInt16BigEndian(diag[4..]) == port)
                    {
                        backlogs[BitConverter.ToUInt32(diag[68..])] = (int)BitConverter.ToUInt32(diag[60..]);
                    }
                }

                offset += (messageLength + 3) & ~3; // NLMSG_ALIGN
            }
        }
    }

    private static unsafe long Send(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            while (true)
            {
                long sent = NativeSend(fd, p, (nuint)data.Length, 0);
                if (sent >= 0 || Marshal.GetLastPInvokeError() != Eintr)
                {
                    return sent;
                }
            }
        }
    }

    private static unsafe long Receive(int fd, Span<byte> data)
    {
        fixed (byte* p = data)
        {
            while (true)
            {
                long received = NativeRecv(fd, p, (nuint)data.Length, 0);
                if (received >= 0 || Marshal.GetLastPInvokeError() != Eintr)
                {
                    return received;
                }
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    private static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static unsafe partial nint NativeSend(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static unsafe partial nint NativeRecv(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
