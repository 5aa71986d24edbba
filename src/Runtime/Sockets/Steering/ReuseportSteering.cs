using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace ShardRuntime.Runtime.Sockets;

/// <summary>
/// Attaches a <see cref="ReuseportSteeringProgram"/> to a reuseport group, and detaches it. The program belongs to
/// the group, not to the socket it is set on: setting it through any member replaces the group's program for all,
/// and it stays while any member is open. Set it through a member that is already listening (TCP) or bound (UDP):
/// on a socket that has not joined its group yet the kernel would start a group of its own for it.
/// </summary>
public static partial class ReuseportSteering
{
    /// <summary>SO_ATTACH_REUSEPORT_CBPF on Linux (4.5+): attach a classic BPF program to the socket's reuseport group.</summary>
    public const int SoAttachReuseportCbpf = 51;

    /// <summary>SO_DETACH_REUSEPORT_BPF on Linux (5.8+): remove the group's program; selection goes back to the hash.</summary>
    public const int SoDetachReuseportBpf = 68;

    private const int Eperm = 1;
    private const int Enoent = 2;
    private const int Ebadf = 9;
    private const int Enomem = 12;
    private const int Efault = 14;
    private const int Einval = 22;
    private const int Enotsock = 88;
    private const int Enoprotoopt = 92;

    /// <summary>
    /// Attaches a program that sends new connections only to <paramref name="acceptingPositions"/> of the group
    /// <paramref name="anyMemberOfGroup"/> belongs to (positions as in <see cref="ReuseportGroup"/>).
    /// </summary>
    public static void Attach(Socket anyMemberOfGroup, IReadOnlyList<int> acceptingPositions) =>
        Attach(anyMemberOfGroup, ReuseportSteeringProgram.ForPositions(acceptingPositions));

    /// <summary>
    /// Attaches <paramref name="program"/> to the group of <paramref name="anyMemberOfGroup"/>, replacing the program
    /// it had. Throws <see cref="ReuseportSteeringException"/> naming the errno when the kernel refuses.
    /// </summary>
    public static unsafe void Attach(Socket anyMemberOfGroup, ReuseportSteeringProgram program)
    {
        ArgumentNullException.ThrowIfNull(anyMemberOfGroup);
        ArgumentNullException.ThrowIfNull(program);
        RequireGroupMember(anyMemberOfGroup);

        var instructions = program.Instructions.AsSpan();
        fixed (BpfInstruction* filter = instructions)
        {
            var fprog = new SockFprog { Length = (ushort)instructions.Length, Filter = filter };
            int errno = SetOption(anyMemberOfGroup, SoAttachReuseportCbpf, &fprog, (uint)sizeof(SockFprog));
            if (errno != 0)
            {
                throw Refused(anyMemberOfGroup, "attach", program.ToString(), errno);
            }
        }
    }

    /// <summary>
    /// Removes the group's program, so the kernel goes back to spreading connections by hash over every member.
    /// Returns false when the group had no program (ENOENT); throws <see cref="ReuseportSteeringException"/> otherwise.
    /// </summary>
    public static unsafe bool Detach(Socket anyMemberOfGroup)
    {
        ArgumentNullException.ThrowIfNull(anyMemberOfGroup);
        RequireGroupMember(anyMemberOfGroup);

        // The kernel reads an int optval for every SOL_SOCKET option, this one included, and ignores its value.
        int unused = 0;
        int errno = SetOption(anyMemberOfGroup, SoDetachReuseportBpf, &unused, sizeof(int));
        return errno switch
        {
            0 => true,
            Enoent => false,
            _ => throw Refused(anyMemberOfGroup, "detach", "the reuseport program", errno),
        };
    }

    private static void RequireGroupMember(Socket socket)
    {
        if (socket.LocalEndPoint is null)
        {
            throw new InvalidOperationException(
                "A reuseport steering program can only be set through a bound member of the group; this socket is not bound.");
        }

        if (socket.SocketType == SocketType.Stream && !SocketOptionsNative.IsListening(socket))
        {
            throw new InvalidOperationException(
                $"A reuseport steering program can only be set through a listening member of the group; the socket on {socket.LocalEndPoint} " +
                "is not listening (the kernel would give it a group of its own).");
        }
    }

    private static unsafe int SetOption(Socket socket, int option, void* value, uint length)
    {
        SafeHandle handle = socket.SafeHandle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            int fd = (int)handle.DangerousGetHandle();
            return SetSockOpt(fd, SocketOptionsNative.SolSocket, option, value, length) == 0 ? 0 : Marshal.GetLastPInvokeError();
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    private static ReuseportSteeringException Refused(Socket socket, string verb, string what, int errno)
    {
        string name = ErrnoName(errno);
        string why = errno switch
        {
            Einval => verb == "attach"
                ? "the kernel's classic BPF checker rejected the program, or the socket is not in a reuseport group (SO_REUSEPORT not set before bind?)"
                : "the socket is not in a reuseport group (SO_REUSEPORT not set before bind?)",
            Enomem => "the program is larger than net.core.optmem_max allows, or the kernel is out of memory",
            Eperm => "the socket's filter is locked (SO_LOCK_FILTER)",
            Enoprotoopt => "this kernel does not know the option (SO_ATTACH_REUSEPORT_CBPF needs Linux 4.5+, SO_DETACH_REUSEPORT_BPF 5.8+)",
            Ebadf or Enotsock => "the socket has been closed",
            Efault => "the kernel could not read the program (a bug in this library)",
            _ => "unexpected",
        };
        string endPoint = socket.LocalEndPoint?.ToString() ?? "an unbound socket";
        return new ReuseportSteeringException(
            errno, name, $"Cannot {verb} {what} on the reuseport group of {endPoint}: setsockopt failed with {name} ({why}).");
    }

    private static string ErrnoName(int errno) => errno switch
    {
        Eperm => "EPERM",
        Enoent => "ENOENT",
        Ebadf => "EBADF",
        Enomem => "ENOMEM",
        Efault => "EFAULT",
        Einval => "EINVAL",
        Enotsock => "ENOTSOCK",
        Enoprotoopt => "ENOPROTOOPT",
        _ => "errno " + errno.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>struct sock_fprog: <c>unsigned short len; struct sock_filter *filter;</c> (16 bytes on 64-bit).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct SockFprog
    {
        public ushort Length;
        public BpfInstruction* Filter;
    }

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    private static unsafe partial int SetSockOpt(int fd, int level, int optionName, void* value, uint length);
}
