using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace ShardRuntime.Runtime.Sockets.Readiness;

/// <summary>
/// Non-blocking recv()/send() straight on a connected socket's descriptor (MSG_DONTWAIT), for sockets whose readiness
/// comes from the <see cref="ReadinessEngine"/>: no .NET socket operation is ever queued on them, so .NET keeps no
/// per-socket asynchronous state. Errors come back as <see cref="SocketError"/>, never as exceptions.
/// </summary>
public static partial class SocketIo
{
    private const int MsgPeek = 0x2;
    private const int MsgDontWait = 0x40;
    private const int MsgNoSignal = 0x4000;
    private const int Eintr = 4;
    private const int Eagain = 11;
    private const int Epipe = 32;
    private const int Econnaborted = 103;
    private const int Econnreset = 104;
    private const int Enotconn = 107;
    private const int Etimedout = 110;
    private const int Ebadf = 9;

    /// <summary>Receives into <paramref name="buffer"/>. Returns the bytes read (0: the peer's FIN), or -1 with <paramref name="error"/> set (<see cref="SocketError.WouldBlock"/>: no data now).</summary>
    public static unsafe int Receive(int fd, Span<byte> buffer, out SocketError error)
    {
        fixed (byte* p = buffer)
        {
            nint n;
            while ((n = Recv(fd, p, (nuint)buffer.Length, MsgDontWait)) < 0 && Marshal.GetLastPInvokeError() == Eintr)
            {
            }
            return Result(n, out error);
        }
    }

    /// <summary>
    /// Whether input is there without taking it (a zero-byte read's question): 1 when data is, 0 at the peer's FIN, or -1
    /// with <paramref name="error"/> set (<see cref="SocketError.WouldBlock"/>: nothing yet).
    /// </summary>
    public static unsafe int Peek(int fd, out SocketError error)
    {
        byte one;
        nint n;
        while ((n = Recv(fd, &one, 1, MsgDontWait | MsgPeek)) < 0 && Marshal.GetLastPInvokeError() == Eintr)
        {
        }
        return Result(n, out error);
    }

    /// <summary>Sends from <paramref name="buffer"/>. Returns the bytes sent, or -1 with <paramref name="error"/> set (<see cref="SocketError.WouldBlock"/>: no room now).</summary>
    public static unsafe int Send(int fd, ReadOnlySpan<byte> buffer, out SocketError error)
    {
        fixed (byte* p = buffer)
        {
            nint n;
            while ((n = SendNative(fd, p, (nuint)buffer.Length, MsgDontWait | MsgNoSignal)) < 0 && Marshal.GetLastPInvokeError() == Eintr)
            {
            }
            return Result(n, out error);
        }
    }

    /// <summary>A system call's result (a count, or -1 with errno) as a count and a <see cref="SocketError"/>.</summary>
    internal static int Result(nint n, out SocketError error)
    {
        error = n >= 0 ? SocketError.Success : Map(Marshal.GetLastPInvokeError());
        return n >= 0 ? (int)n : -1;
    }

    /// <summary>The <see cref="SocketError"/> that .NET reports for a Linux errno of accept4()/recv()/send().</summary>
    public static SocketError Map(int errno) => errno switch
    {
        Eagain => SocketError.WouldBlock,
        24 or 23 => SocketError.TooManyOpenSockets, // EMFILE, ENFILE
        105 or 12 => SocketError.NoBufferSpaceAvailable, // ENOBUFS, ENOMEM
        22 or 88 => SocketError.OperationAborted, // EINVAL (a listener that no longer listens), ENOTSOCK
        Econnreset => SocketError.ConnectionReset,
        Econnaborted => SocketError.ConnectionAborted,
        Epipe => SocketError.Shutdown,
        Enotconn => SocketError.NotConnected,
        Etimedout => SocketError.TimedOut,
        Ebadf => SocketError.OperationAborted,
        _ => SocketError.SocketError,
    };

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static unsafe partial nint Recv(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static unsafe partial nint SendNative(int fd, byte* buffer, nuint length, int flags);
}
