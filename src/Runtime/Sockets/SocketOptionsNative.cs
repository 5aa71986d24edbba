using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace ShardRuntime.Runtime.Sockets;

/// <summary>
/// Linux socket options set by their raw numbers, because .NET's named options do not map one to one:
/// <see cref="SocketOptionName.ReuseAddress"/> sets SO_REUSEADDR <em>and</em> SO_REUSEPORT on Linux, which would let
/// a second server join our port by accident. Never use that named option on a listener; use these.
/// </summary>
public static partial class SocketOptionsNative
{
    /// <summary>SOL_SOCKET on Linux.</summary>
    public const int SolSocket = 1;

    /// <summary>SO_REUSEADDR on Linux: allows binding over TIME_WAIT; does not let two listeners share a port.</summary>
    public const int SoReuseAddr = 2;

    /// <summary>SO_REUSEPORT on Linux: lets sockets of the same effective user share a port; the kernel spreads load across them.</summary>
    public const int SoReusePort = 15;

    /// <summary>SO_PEERCRED on Linux: the pid, uid and gid of a Unix domain socket's peer (struct ucred).</summary>
    public const int SoPeerCred = 17;

    /// <summary>SO_ACCEPTCONN on Linux: 1 when the socket is in listen().</summary>
    public const int SoAcceptConn = 30;

    /// <summary>SO_RCVBUFFORCE on Linux: SO_RCVBUF past net.core.rmem_max, for a process with CAP_NET_ADMIN.</summary>
    public const int SoRcvBufForce = 33;

    /// <summary>
    /// Asks for a receive buffer of <paramref name="bytes"/> (SO_RCVBUF) and returns what the kernel granted. The
    /// kernel caps SO_RCVBUF at net.core.rmem_max; when it did, SO_RCVBUFFORCE is tried, which a process with
    /// CAP_NET_ADMIN (root) may set past that cap, as NSD and Knot do for their UDP sockets. Without the capability the
    /// capped size stays (EPERM is no error here): the caller compares and says so.
    /// </summary>
    public static int SetReceiveBuffer(Socket socket, int bytes)
    {
        ArgumentNullException.ThrowIfNull(socket);
        socket.ReceiveBufferSize = bytes;
        // Linux doubles what it is asked for (its bookkeeping) and reports the doubled value.
        if (socket.ReceiveBufferSize / 2 >= bytes) return socket.ReceiveBufferSize / 2;
        try
        {
            SetInt(socket, SoRcvBufForce, bytes);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.AccessDenied or SocketError.OperationNotSupported || e.NativeErrorCode == 1)
        {
            // EPERM: no CAP_NET_ADMIN; the capped buffer stays.
        }
        return socket.ReceiveBufferSize / 2;
    }

    /// <summary>Sets SO_REUSEPORT = 1. Must happen before bind() to join or form a reuseport group.</summary>
    public static void SetReusePort(Socket socket) => SetInt(socket, SoReusePort, 1);

    /// <summary>Reads SO_REUSEPORT back from the kernel.</summary>
    public static bool GetReusePort(Socket socket) => GetInt(socket, SoReusePort) != 0;

    /// <summary>Sets the raw SO_REUSEADDR = 1 (without the SO_REUSEPORT that .NET's named option adds), as nginx does on TCP listeners.</summary>
    public static void SetReuseAddress(Socket socket) => SetInt(socket, SoReuseAddr, 1);

    /// <summary>Reads SO_REUSEADDR back from the kernel.</summary>
    public static bool GetReuseAddress(Socket socket) => GetInt(socket, SoReuseAddr) != 0;

    /// <summary>True when the kernel reports the socket as listening (SO_ACCEPTCONN); useful for sockets adopted from elsewhere.</summary>
    public static bool IsListening(Socket socket) => GetInt(socket, SoAcceptConn) != 0;

    /// <summary>Sets an int-valued SOL_SOCKET option by its Linux number.</summary>
    public static void SetInt(Socket socket, int optionName, int value)
    {
        ArgumentNullException.ThrowIfNull(socket);
        Span<byte> buffer = stackalloc byte[sizeof(int)];
        BitConverter.TryWriteBytes(buffer, value);
        socket.SetRawSocketOption(SolSocket, optionName, buffer);
    }

    /// <summary>Reads an int-valued SOL_SOCKET option by its Linux number.</summary>
    public static int GetInt(Socket socket, int optionName)
    {
        ArgumentNullException.ThrowIfNull(socket);
        Span<byte> buffer = stackalloc byte[sizeof(int)];
        int length = socket.GetRawSocketOption(SolSocket, optionName, buffer);
        if (length != sizeof(int))
        {
            throw new InvalidOperationException($"getsockopt(SOL_SOCKET, {optionName}) returned {length} bytes, expected {sizeof(int)}.");
        }

        return BitConverter.ToInt32(buffer);
    }

    /// <summary>
    /// Clears FD_CLOEXEC on the socket's descriptor. .NET treats a descriptor without it as shared with other processes
    /// and, on a non-abortive close, never "unblocks" it with connect(AF_UNSPEC), which would stop a listening socket
    /// listening for every process that holds it. A child started afterwards inherits the descriptor.
    /// </summary>
    public static void ClearCloseOnExec(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        const int FGetFd = 1, FSetFd = 2, FdCloexec = 1;
        var handle = socket.SafeHandle;
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var fd = (int)handle.DangerousGetHandle();
            var flags = Fcntl(fd, FGetFd, 0);
            if (flags < 0 || Fcntl(fd, FSetFd, flags & ~FdCloexec) < 0)
                throw new SocketException(Marshal.GetLastPInvokeError());
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    /// <summary>
    /// Sets O_NONBLOCK on the socket's open file description (shared with any process that holds the same socket), for
    /// descriptors driven by accept4()/recv()/send() and the readiness engine rather than by .NET's socket operations.
    /// </summary>
    public static void SetNonBlocking(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        const int FGetFl = 3, FSetFl = 4, ONonblock = 0x800;
        var handle = socket.SafeHandle;
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var fd = (int)handle.DangerousGetHandle();
            var flags = Fcntl(fd, FGetFl, 0);
            if (flags < 0 || ((flags & ONonblock) == 0 && Fcntl(fd, FSetFl, flags | ONonblock) < 0))
                throw new SocketException(Marshal.GetLastPInvokeError());
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, int argument);
}
