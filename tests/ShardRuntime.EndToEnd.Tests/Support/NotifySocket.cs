using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace ShardRuntime.EndToEnd.Tests.Support;

/// <summary>
/// What systemd listens on for a Type=notify service: a Unix datagram socket (the node finds it in $NOTIFY_SOCKET) whose
/// datagrams carry sd_notify state lines. Like systemd, it reads each sender's credentials (SO_PASSCRED, SCM_CREDENTIALS),
/// so a spec can tell which process said what (systemd only takes a message from a process other than the main one
/// under NotifyAccess=all), and the kernel's timestamp of each datagram (SO_TIMESTAMP), so a spec can tell when.
/// </summary>
internal sealed partial class NotifySocket : IDisposable
{
    private const int SolSocket = 1;
    private const int SoPassCred = 16;
    private const int ScmCredentials = 2;
    private const int SoTimestamp = 29; // also the type of its control message (SCM_TIMESTAMP)
    private const int MsgDontWait = 0x40;

    private readonly DirectoryInfo directory;
    private readonly Socket socket;
    private readonly List<NotifyMessage> received = [];

    private NotifySocket(DirectoryInfo directory, Socket socket, string path)
    {
        this.directory = directory;
        this.socket = socket;
        Path = path;
    }

    /// <summary>The socket's path: the value of NOTIFY_SOCKET.</summary>
    public string Path { get; }

    /// <summary>A fresh socket in its own temp directory.</summary>
    public static NotifySocket Bind()
    {
        var directory = Directory.CreateTempSubdirectory("sr-notify-");
        var path = System.IO.Path.Combine(directory.FullName, "notify.sock");
        var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
            socket.SetRawSocketOption(SolSocket, SoPassCred, BitConverter.GetBytes(1));
            socket.SetRawSocketOption(SolSocket, SoTimestamp, BitConverter.GetBytes(1));
            return new NotifySocket(directory, socket, path);
        }
        catch
        {
            socket.Dispose();
            directory.Delete(recursive: true);
            throw;
        }
    }

    /// <summary>
    /// The first message, among those read so far and those arriving within <paramref name="timeout"/>, that
    /// <paramref name="match"/> accepts; throws a <see cref="TimeoutException"/> listing what did arrive.
    /// </summary>
    public async Task<NotifyMessage> WaitForAsync(Func<NotifyMessage, bool> match, TimeSpan timeout, string what)
    {
        var stopwatch = Stopwatch.StartNew();
        var examined = 0;
        while (true)
        {
            for (; examined < received.Count; examined++)
            {
                if (match(received[examined]))
                    return received[examined];
            }
            var left = timeout - stopwatch.Elapsed;
            if (left <= TimeSpan.Zero || await ReceiveAsync(left) is not { } message)
                throw new TimeoutException($"no notification {what} within {timeout.TotalSeconds}s; received: {Describe()}");
            received.Add(message);
        }
    }

    /// <summary>Reads every datagram already queued, without waiting; returns every message read so far, in arrival order.</summary>
    public IReadOnlyList<NotifyMessage> ReadPending()
    {
        while (TryReceive() is { } message)
            received.Add(message);
        return received;
    }

    public string Describe() =>
        received.Count == 0 ? "nothing" : string.Join("; ", received.Select(m => m.ToString()));

    public void Dispose()
    {
        socket.Dispose();
        try
        {
            directory.Delete(recursive: true);
        }
        catch (IOException)
        {
            // a leftover temp directory is harmless
        }
    }

    /// <summary>Waits (peeking, so the datagram stays queued) until one arrives, then reads it with its sender's credentials.</summary>
    private async Task<NotifyMessage?> ReceiveAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await socket.ReceiveAsync(new byte[1], SocketFlags.Peek, cts.Token);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
        return TryReceive() ?? throw new InvalidOperationException("a datagram was announced but none could be read");
    }

    private unsafe NotifyMessage? TryReceive()
    {
        var buffer = new byte[4096];
        // Room for SCM_CREDENTIALS (struct ucred: pid, uid, gid) and SCM_TIMESTAMP (struct timeval), each after a
        // 16-byte struct cmsghdr and padded to 8 bytes.
        const int controlLength = 64;
        var control = stackalloc byte[controlLength];
        new Span<byte>(control, controlLength).Clear();
        nint length;
        fixed (byte* data = buffer)
        {
            var iov = new IoVector { Base = data, Length = (nuint)buffer.Length };
            var header = new MessageHeader { Iov = &iov, IovLength = 1, Control = control, ControlLength = controlLength };
            var handle = socket.SafeHandle;
            var added = false;
            handle.DangerousAddRef(ref added);
            try
            {
                length = recvmsg((int)handle.DangerousGetHandle(), &header, MsgDontWait);
            }
            finally
            {
                if (added)
                    handle.DangerousRelease();
            }
            if (length < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == 11) // EAGAIN: nothing queued
                    return null;
                throw new InvalidOperationException($"recvmsg on {Path} failed: errno {errno}");
            }

            var pid = 0;
            var queuedAt = DateTimeOffset.UtcNow;
            for (var offset = 0; offset + sizeof(CmsgHeader) <= (int)header.ControlLength;)
            {
                var cmsg = (CmsgHeader*)(control + offset);
                var payload = control + offset + sizeof(CmsgHeader);
                if (cmsg->Level == SolSocket && cmsg->Type == ScmCredentials)
                    pid = *(int*)payload;
                else if (cmsg->Level == SolSocket && cmsg->Type == SoTimestamp)
                    queuedAt = DateTimeOffset.FromUnixTimeMilliseconds((((long*)payload)[0] * 1000) + (((long*)payload)[1] / 1000));
                offset += ((int)cmsg->Length + 7) & ~7;
                if (cmsg->Length == 0)
                    break;
            }
            return new NotifyMessage(pid, Encoding.UTF8.GetString(buffer, 0, (int)length), queuedAt);
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint recvmsg(int fd, MessageHeader* message, int flags);

    // struct msghdr on 64-bit Linux.
    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct MessageHeader
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
    private unsafe struct IoVector
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
