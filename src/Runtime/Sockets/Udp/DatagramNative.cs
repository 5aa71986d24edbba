using System.Runtime.InteropServices;

namespace ShardRuntime.Runtime.Sockets.Udp;

/// <summary>The Linux structures and calls of batched datagram I/O (64-bit layouts: x86-64 and arm64).</summary>
internal static unsafe partial class DatagramNative
{
    public const int MsgPeek = 0x02;
    public const int MsgTrunc = 0x20;
    public const int MsgDontWait = 0x40;
    public const int MsgNoSignal = 0x4000;

    public const int Eintr = 4;
    public const int Eagain = 11;

    /// <summary>sizeof(struct sockaddr_storage).</summary>
    public const int SockaddrStorageLength = 128;

    /// <summary>struct iovec.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public byte* Base;
        public nuint Length;
    }

    /// <summary>struct msghdr (56 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public byte* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary>struct mmsghdr (64 bytes): the header and the byte count the kernel transferred.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MMsgHdr
    {
        public MsgHdr Header;
        public uint Length;
    }

    [LibraryImport("libc", EntryPoint = "recvmmsg", SetLastError = true)]
    public static partial int RecvMMsg(int fd, MMsgHdr* messages, uint count, int flags, void* timeout);

    [LibraryImport("libc", EntryPoint = "sendmmsg", SetLastError = true)]
    public static partial int SendMMsg(int fd, MMsgHdr* messages, uint count, int flags);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    public static partial nint Recv(int fd, byte* buffer, nuint length, int flags);

    /// <summary>Runs <paramref name="call"/> with the descriptor of <paramref name="socket"/>, kept open meanwhile.</summary>
    public static T WithDescriptor<T, TState>(System.Net.Sockets.Socket socket, TState state, Func<int, TState, T> call)
    {
        ArgumentNullException.ThrowIfNull(socket);
        SafeHandle handle = socket.SafeHandle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            return call((int)handle.DangerousGetHandle(), state);
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }
}
