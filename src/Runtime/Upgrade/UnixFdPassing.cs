using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace ShardRuntime.Runtime.Upgrade;

/// <summary>
/// Sends and receives file descriptors over a connected Unix domain socket with sendmsg(2)/recvmsg(2) and an
/// SCM_RIGHTS control message (unix(7)). The kernel installs new descriptors for the same open files in the
/// receiver; a passed listening socket keeps its accept queue because it is the same kernel socket.
/// </summary>
/// <remarks>
/// Both calls use MSG_DONTWAIT and wait for readiness with poll(2) themselves, so they work whether .NET has put the
/// socket into non-blocking mode or not. On a stream socket the descriptors travel with the first byte of the
/// payload that the kernel accepts; a receiver may get them together with bytes sent earlier.
/// </remarks>
public static unsafe partial class UnixFdPassing
{
    /// <summary>The most descriptors one message carries here. The kernel's own limit (SCM_MAX_FD) is 253.</summary>
    public const int MaxDescriptorsPerMessage = 32;

    private const int SolSocket = 1;
    private const int ScmRights = 1;
    private const int MsgCtrunc = 0x8;
    private const int MsgDontWait = 0x40;
    private const int MsgNoSignal = 0x4000;
    private const int MsgCmsgCloexec = 0x40000000;
    private const int FDupFdCloexec = 1030;
    private const int Eintr = 4;
    private const int Eagain = 11;

    // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; } on 64-bit: 16 bytes, data aligned to 8.
    private static readonly int CmsgHeaderSize = CmsgAlign(sizeof(nuint) + (2 * sizeof(int)));

    /// <summary>
    /// Sends (part of) <paramref name="payload"/> with <paramref name="fds"/> attached, in one sendmsg. Returns how many
    /// payload bytes the kernel took (at least 1; the descriptors went with them); the caller sends the rest without
    /// descriptors. The caller keeps its descriptors: the receiver gets new ones for the same open files.
    /// </summary>
    /// <exception cref="ArgumentException">The payload is empty (descriptors need at least one byte) or there are too many descriptors.</exception>
    /// <exception cref="SocketException">sendmsg failed (EPIPE when the peer is gone, ETOOMANYREFS, ...).</exception>
    public static int Send(Socket unix, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds) =>
        Send(unix, payload, fds, Timeout.InfiniteTimeSpan);

    /// <summary>
    /// <see cref="Send(Socket, ReadOnlySpan{byte}, ReadOnlySpan{int})"/>, waiting at most <paramref name="timeout"/>
    /// for room in the socket's send buffer.
    /// </summary>
    /// <exception cref="TimeoutException">The peer did not read and the send buffer stayed full for <paramref name="timeout"/>.</exception>
    public static int Send(Socket unix, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(unix);
        CheckSendable(payload, fds);
        int controlLength = fds.IsEmpty ? 0 : CmsgSpace(fds.Length * sizeof(int));
        byte* control = stackalloc byte[Math.Max(controlLength, 1)];
        new Span<byte>(control, Math.Max(controlLength, 1)).Clear();
        if (controlLength > 0)
        {
            WriteRights(control, fds);
        }

        long deadline = timeout == Timeout.InfiniteTimeSpan ? long.MaxValue : Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        using var held = new HeldDescriptor(unix);
        fixed (byte* data = payload)
        {
            var iov = new IoVector { Base = data, Length = (nuint)payload.Length };
            var message = new MessageHeader
            {
                Iov = &iov,
                IovLength = 1,
                Control = controlLength > 0 ? control : null,
                ControlLength = (nuint)controlLength,
            };
            return SendMessage(unix, held.Fd, &message, deadline, timeout);
        }
    }

    private static void CheckSendable(ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds)
    {
        if (payload.IsEmpty)
        {
            throw new ArgumentException("Descriptors travel with data: the payload needs at least one byte.", nameof(payload));
        }

        if (fds.Length > MaxDescriptorsPerMessage)
        {
            throw new ArgumentException(
                $"{fds.Length} descriptors in one message; at most {MaxDescriptorsPerMessage} are sent at once.", nameof(fds));
        }
    }

    /// <summary>Writes one SCM_RIGHTS control message carrying <paramref name="fds"/> at <paramref name="control"/> (CmsgSpace bytes).</summary>
    private static void WriteRights(byte* control, ReadOnlySpan<int> fds)
    {
        var header = (CmsgHeader*)control;
        header->Length = (nuint)CmsgLen(fds.Length * sizeof(int));
        header->Level = SolSocket;
        header->Type = ScmRights;
        fds.CopyTo(new Span<int>(control + CmsgHeaderSize, fds.Length));
    }

    /// <summary>sendmsg on <paramref name="fd"/> (non-blocking), retried on EINTR and after waiting for room on EAGAIN.</summary>
    private static int SendMessage(Socket unix, int fd, MessageHeader* message, long deadline, TimeSpan timeout)
    {
        while (true)
        {
            nint sent = NativeSendMessage(fd, message, MsgDontWait | MsgNoSignal);
            if (sent >= 0)
            {
                return (int)sent;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno == Eagain)
            {
                WaitWritable(unix, deadline, timeout);
            }
            else if (errno != Eintr)
            {
                throw new SocketException(errno);
            }
        }
    }

    /// <summary>
    /// Receives bytes into <paramref name="buffer"/> and appends any descriptors that came with them to
    /// <paramref name="fdsOut"/> (close-on-exec set; the caller owns them). Returns the number of bytes, 0 at end of
    /// stream. Waits (poll) until something arrives.
    /// </summary>
    /// <exception cref="SocketException">recvmsg failed.</exception>
    /// <exception cref="IOException">The control message was truncated (MSG_CTRUNC): descriptors were lost. Those that did arrive are closed.</exception>
    public static int Receive(Socket unix, Span<byte> buffer, List<int> fdsOut)
    {
        ArgumentNullException.ThrowIfNull(unix);
        ArgumentNullException.ThrowIfNull(fdsOut);
        if (buffer.IsEmpty)
        {
            throw new ArgumentException("The receive buffer is empty.", nameof(buffer));
        }

        int controlLength = CmsgSpace(MaxDescriptorsPerMessage * sizeof(int));
        byte* control = stackalloc byte[controlLength];
        new Span<byte>(control, controlLength).Clear();
        using var held = new HeldDescriptor(unix);
        int fd = held.Fd;
        {
            fixed (byte* data = buffer)
            {
                var iov = new IoVector { Base = data, Length = (nuint)buffer.Length };
                var message = new MessageHeader
                {
                    Iov = &iov,
                    IovLength = 1,
                    Control = control,
                    ControlLength = (nuint)controlLength,
                };
                nint received;
                while (true)
                {
                    received = NativeReceiveMessage(fd, &message, MsgDontWait | MsgCmsgCloexec);
                    if (received >= 0)
                    {
                        break;
                    }

                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Eagain)
                    {
                        unix.Poll(-1, SelectMode.SelectRead);
                    }
                    else if (errno != Eintr)
                    {
                        throw new SocketException(errno);
                    }
                }

                var arrived = ParseRights(control, (int)message.ControlLength);
                if ((message.Flags & MsgCtrunc) != 0)
                {
                    CloseAll(arrived);
                    throw new IOException(
                        $"recvmsg truncated the control message (MSG_CTRUNC): descriptors were lost ({arrived.Count} arrived and were closed). " +
                        $"Send at most {MaxDescriptorsPerMessage} per message, and check RLIMIT_NOFILE.");
                }

                fdsOut.AddRange(arrived);
                return (int)received;
            }
        }
    }

    /// <summary>
    /// A new descriptor (close-on-exec) for the same open file as <paramref name="socket"/>'s; the caller closes it.
    /// The socket's handle is held (DangerousAddRef) while it is read, so it cannot be closed and its number reused.
    /// </summary>
    public static int Duplicate(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        using var held = new HeldDescriptor(socket);
        int copy = NativeFcntl(held.Fd, FDupFdCloexec, 3);
        if (copy < 0)
        {
            throw new SocketException(Marshal.GetLastPInvokeError());
        }

        return copy;
    }

    /// <summary>Closes raw descriptors (for example ones received but not adopted); errors are ignored.</summary>
    public static void CloseAll(IEnumerable<int> fds)
    {
        ArgumentNullException.ThrowIfNull(fds);
        foreach (int fd in fds)
        {
            _ = NativeClose(fd);
        }
    }

    private static void WaitWritable(Socket unix, long deadline, TimeSpan timeout)
    {
        if (deadline == long.MaxValue)
        {
            unix.Poll(-1, SelectMode.SelectWrite);
            return;
        }

        long left = deadline - Environment.TickCount64;
        if (left <= 0 || !unix.Poll(TimeSpan.FromMilliseconds(left), SelectMode.SelectWrite))
        {
            throw new TimeoutException($"The peer read nothing for {timeout.TotalSeconds:0.###} s: the socket's send buffer stayed full.");
        }
    }

    internal static int CmsgAlign(int length) => (length + sizeof(nuint) - 1) & ~(sizeof(nuint) - 1);

    internal static int CmsgLen(int dataLength) => CmsgHeaderSize + dataLength;

    internal static int CmsgSpace(int dataLength) => CmsgHeaderSize + CmsgAlign(dataLength);

    private static List<int> ParseRights(byte* control, int length)
    {
        var fds = new List<int>();
        int offset = 0;
        while (offset + CmsgHeaderSize <= length)
        {
            var header = (CmsgHeader*)(control + offset);
            int cmsgLength = (int)header->Length;
            if (cmsgLength < CmsgHeaderSize || offset + cmsgLength > length)
            {
                break;
            }

            if (header->Level == SolSocket && header->Type == ScmRights)
            {
                int count = (cmsgLength - CmsgHeaderSize) / sizeof(int);
                fds.AddRange(new ReadOnlySpan<int>(control + offset + CmsgHeaderSize, count));
            }

            offset += CmsgAlign(cmsgLength);
        }

        return fds;
    }

    /// <summary>A socket's descriptor number, with its handle referenced (DangerousAddRef) until disposed.</summary>
    private ref struct HeldDescriptor
    {
        private readonly SafeHandle _handle;
        private bool _added;

        public HeldDescriptor(Socket socket)
        {
            _handle = socket.SafeHandle;
            _added = false;
            _handle.DangerousAddRef(ref _added);
            Fd = (int)_handle.DangerousGetHandle();
        }

        public int Fd { get; }

        public void Dispose()
        {
            if (_added)
            {
                _added = false;
                _handle.DangerousRelease();
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    private static partial nint NativeSendMessage(int fd, MessageHeader* message, int flags);

    [LibraryImport("libc", EntryPoint = "recvmsg", SetLastError = true)]
    private static partial nint NativeReceiveMessage(int fd, MessageHeader* message, int flags);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int NativeFcntl(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int NativeClose(int fd);

    // struct msghdr on 64-bit Linux (glibc and musl agree on the layout; the padding is explicit in musl).
    [StructLayout(LayoutKind.Sequential)]
    private struct MessageHeader
    {
        public void* Name;
        public uint NameLength;
        public IoVector* Iov;
        public nuint IovLength;
        public byte* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVector
    {
        public byte* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct CmsgHeader
    {
        public nuint Length;
        public int Level;
        public int Type;
    }
}
