using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace ShardRuntime.Runtime.Sockets.Readiness;

/// <summary>
/// A connection accepted with accept4(): its descriptor and nothing else. No <see cref="Socket"/>, no SafeHandle, no
/// endpoint objects are made for it (an idle connection is paid for by the byte); the addresses are read from the kernel
/// when asked. Its owner closes it exactly once (<see cref="Close"/>). Reads and writes go through <see cref="SocketIo"/>.
/// </summary>
public readonly partial struct AcceptedSocket
{
    private const int SolSocket = 1;
    private const int SoLinger = 13;
    private const int ShutWr = 1;
    private const int SockNonblock = 0x800;
    private const int SockCloexec = 0x80000;
    private const int Eintr = 4;
    private const int AfInet = 2;
    private const int AfInet6 = 10;

    /// <summary>An accepted socket's descriptor <paramref name="fd"/>.</summary>
    public AcceptedSocket(int fd) => Fd = fd;

    /// <summary>The descriptor.</summary>
    public int Fd { get; }

    /// <summary>
    /// Accepts one connection from <paramref name="listener"/> (a non-blocking listening descriptor), close-on-exec and
    /// non-blocking. Returns <see cref="SocketError.WouldBlock"/> when none is waiting.
    /// </summary>
    public static SocketError Accept(int listener, out AcceptedSocket accepted)
    {
        int fd;
        while ((fd = Accept4(listener, 0, 0, SockCloexec | SockNonblock)) < 0 && Marshal.GetLastPInvokeError() == Eintr)
        {
        }
        SocketIo.Result(fd, out var error);
        accepted = fd >= 0 ? new AcceptedSocket(fd) : default;
        return error;
    }

    /// <summary>Makes the close abortive: SO_LINGER {1, 0}, so close() sends a reset and drops unsent data.</summary>
    public void SetAbortiveClose()
    {
        Span<int> linger = [1, 0];
        _ = SetSockOpt(Fd, SolSocket, SoLinger, ref linger[0], 2 * sizeof(int));
    }

    /// <summary>shutdown(SHUT_WR): sends the FIN after what is queued.</summary>
    public SocketError ShutdownSend() => Shutdown(Fd, ShutWr) == 0 ? SocketError.Success : Error();

    /// <summary>Closes the descriptor. Call once.</summary>
    public void Close() => _ = CloseNative(Fd);

    /// <summary>The peer's address, read from the kernel (null when it cannot be read, e.g. after a reset).</summary>
    public IPEndPoint? RemoteEndPoint => ReadAddress(remote: true);

    /// <summary>This end's address, read from the kernel.</summary>
    public IPEndPoint? LocalEndPoint => ReadAddress(remote: false);

    private IPEndPoint? ReadAddress(bool remote)
    {
        Span<byte> address = stackalloc byte[128];
        var length = address.Length;
        var result = remote
            ? GetPeerName(Fd, ref MemoryMarshal.GetReference(address), ref length)
            : GetSockName(Fd, ref MemoryMarshal.GetReference(address), ref length);
        return result == 0 ? Parse(address[..Math.Min(length, address.Length)]) : null;
    }

    /// <summary>An IPEndPoint from a Linux sockaddr_in or sockaddr_in6; null for any other family.</summary>
    internal static IPEndPoint? Parse(ReadOnlySpan<byte> sockaddr)
    {
        if (sockaddr.Length < 2) return null;
        var family = BitConverter.ToUInt16(sockaddr);
        if (family == AfInet && sockaddr.Length >= 8)
            return new IPEndPoint(new IPAddress(sockaddr.Slice(4, 4)), BinaryPrimitives.ReadUInt16BigEndian(sockaddr[2..]));
        if (family == AfInet6 && sockaddr.Length >= 28)
            return new IPEndPoint(
                new IPAddress(sockaddr.Slice(8, 16), BitConverter.ToUInt32(sockaddr[24..])),
                BinaryPrimitives.ReadUInt16BigEndian(sockaddr[2..]));
        return null;
    }

    private static SocketError Error() => SocketIo.Map(Marshal.GetLastPInvokeError());

    [LibraryImport("libc", EntryPoint = "accept4", SetLastError = true)]
    private static partial int Accept4(int fd, nint address, nint addressLength, int flags);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    private static partial int SetSockOpt(int fd, int level, int name, ref int value, int length);

    [LibraryImport("libc", EntryPoint = "shutdown", SetLastError = true)]
    private static partial int Shutdown(int fd, int how);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int CloseNative(int fd);

    [LibraryImport("libc", EntryPoint = "getpeername", SetLastError = true)]
    private static partial int GetPeerName(int fd, ref byte address, ref int length);

    [LibraryImport("libc", EntryPoint = "getsockname", SetLastError = true)]
    private static partial int GetSockName(int fd, ref byte address, ref int length);
}
