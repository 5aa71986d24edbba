using System.Net.Sockets;
using System.Runtime.InteropServices;
using ShardRuntime.Runtime.Sockets;

namespace ShardRuntime.Actors.ControlSocket;

/// <summary>
/// Creates, inspects and removes the control socket's file: the runtime directory (0700), the check that no live node
/// already serves the path, the bound and listening socket (0600), and the clean-up on stop.
/// </summary>
internal static partial class ControlSocketFile
{
    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode SocketMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const int Backlog = 64;
    private static int _replacements;

    /// <summary>A bound, listening control socket and the kernel inode of its file (0 when unknown).</summary>
    public sealed record Bound(Socket Socket, string Path, ulong Inode);

    /// <summary>
    /// Binds and listens on <paramref name="path"/>. A socket file left by a dead node is removed; a live node on the path
    /// (one that accepts a connection within <paramref name="probeTimeout"/>) fails with "another node already serves".
    /// Every failure is a <see cref="ControlBindException"/> whose message names the path.
    /// </summary>
    public static async Task<Bound> BindAsync(string path, TimeSpan probeTimeout)
    {
        return await BindAsync(path, probeTimeout, replace: false).ConfigureAwait(false);
    }

    /// <summary>
    /// Binds a fresh socket next to <paramref name="path"/> and renames it over the path in one step (rename(2) is
    /// atomic): clients that connect by path reach this process from then on. This is how a successor claims the
    /// control and upgrade sockets of the node it replaced, which still holds (and no longer removes) the old file.
    /// </summary>
    public static Task<Bound> ReplaceAsync(string path) => BindAsync(path, TimeSpan.Zero, replace: true);

    private static async Task<Bound> BindAsync(string path, TimeSpan probeTimeout, bool replace)
    {
        if (OperatingSystem.IsWindows())
            throw new ControlBindException("the control socket needs Linux (SO_PEERCRED, Unix file modes)");
        try
        {
            var fullPath = System.IO.Path.GetFullPath(path);
            var directory = System.IO.Path.GetDirectoryName(fullPath)!;
            if (!Directory.Exists(directory))
                Directory.CreateDirectory(directory, DirectoryMode);

            var existing = Inspect(fullPath);
            if (replace)
            {
                if (existing.Kind == FileKind.Other)
                    throw new ControlBindException($"{path} exists and is not a socket; it is not replaced");
                // A short temporary name in the same directory (rename(2) is atomic only within one file system).
                var fresh = System.IO.Path.Combine(directory, $".sr{Environment.ProcessId}.{Interlocked.Increment(ref _replacements)}");
                File.Delete(fresh);
                var replacing = BindAt(fresh);
                try
                {
                    File.Move(fresh, fullPath, overwrite: true);
                }
                catch
                {
                    replacing.Dispose();
                    File.Delete(fresh);
                    throw;
                }
                return new Bound(replacing, fullPath, Inspect(fullPath).Inode);
            }
            if (existing.Kind == FileKind.Other)
                throw new ControlBindException($"{path} exists and is not a socket; remove it or set shard-runtime.control.socket-path to another path");
            if (existing.Kind is FileKind.Socket or FileKind.Unknown)
            {
                if (await ServedByAsync(fullPath, probeTimeout).ConfigureAwait(false) is { } pid)
                    throw new ControlBindException($"another node{(pid > 0 ? $" (pid {pid})" : "")} already serves {path}");
                File.Delete(fullPath);
            }

            var socket = BindAt(fullPath);
            return new Bound(socket, fullPath, Inspect(fullPath).Inode);
        }
        catch (Exception e) when (e is not ControlBindException)
        {
            throw new ControlBindException($"cannot serve the control socket {path}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Whether <paramref name="bound"/>'s file is still its own (one stat, off the caller's thread): if it is gone, or
    /// another file is there now (other than <paramref name="knownInode"/>, one an earlier check found and left alone),
    /// the socket is bound again at its path as <see cref="BindAsync(string, TimeSpan)"/> binds it: a stale socket file
    /// is replaced, a live node's socket or a file that is not a socket is left alone (then
    /// <see cref="Recheck.Refusal"/> says why).
    /// </summary>
    public static async Task<Recheck> RecheckAsync(Bound bound, ulong knownInode, TimeSpan probeTimeout)
    {
        var now = await Task.Run(() => Inspect(bound.Path)).ConfigureAwait(false);
        if (Describe(bound.Inode, knownInode, now) is not { } found) return Recheck.Unchanged;
        try
        {
            return new Recheck(found, await BindAsync(bound.Path, probeTimeout).ConfigureAwait(false), null, now.Inode);
        }
        catch (ControlBindException e)
        {
            return new Recheck(found, null, e.Message, now.Inode);
        }
    }

    /// <summary>
    /// What is at a bound socket's path now, in words, or null when nothing needs doing: its own file is there
    /// (<paramref name="boundInode"/>), a file an earlier check left alone (<paramref name="knownInode"/>), or it cannot tell.
    /// </summary>
    internal static string? Describe(ulong boundInode, ulong knownInode, FileState now) => now.Kind switch
    {
        FileKind.Missing => "deleted",
        FileKind.Unknown => null,
        _ when now.Inode == boundInode || (knownInode != 0 && now.Inode == knownInode) => null,
        FileKind.Socket => $"replaced by another socket file (inode {now.Inode})",
        _ => $"replaced by a file that is not a socket (inode {now.Inode})",
    };

    /// <summary>
    /// What <see cref="RecheckAsync"/> found (null: the file is as it was) and did: the socket bound again at the same
    /// path (<paramref name="Rebound"/>; the caller closes the old one), or why not (<paramref name="Refusal"/>; the file
    /// found, <paramref name="FoundInode"/>, is left alone and not reported again).
    /// </summary>
    public sealed record Recheck(string? Found, Bound? Rebound, string? Refusal, ulong FoundInode)
    {
        public static readonly Recheck Unchanged = new(null, null, null, 0);
    }

    /// <summary>
    /// Closes the listening socket and removes its file, but only the file this node bound: one that another node
    /// created on the same path since then (a different inode) is left alone.
    /// </summary>
    public static void Close(Bound bound)
    {
        // The socket was bound by bind(2) (BindAt), so disposing it leaves the file alone: a successor may own it now.
        bound.Socket.Dispose();
        var now = Inspect(bound.Path);
        if (now.Kind == FileKind.Socket && bound.Inode != 0 && now.Inode == bound.Inode)
        {
            try { File.Delete(bound.Path); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>
    /// A listening Unix domain socket bound to <paramref name="path"/> with mode 0600, bound by bind(2) directly: a .NET
    /// <see cref="Socket"/> that bound a path itself removes the path when disposed, whoever's file it is by then (a
    /// successor's, after <see cref="ReplaceAsync"/>). <see cref="Close"/> removes only this socket's own file.
    /// </summary>
    private static Socket BindAt(string path)
    {
        var fd = NativeSocket(AfUnix, SockStream | SockCloexec, 0);
        if (fd < 0)
            throw new IOException($"socket(AF_UNIX) failed: errno {Marshal.GetLastPInvokeError()}");
        var socket = (Socket?)null;
        try
        {
            var address = new byte[110]; // struct sockaddr_un: sun_family (u16), sun_path[108]
            var bytes = System.Text.Encoding.UTF8.GetBytes(path);
            if (bytes.Length >= 108)
                throw new ControlBindException($"{path} is too long for a Unix domain socket (at most 107 bytes)");
            BitConverter.TryWriteBytes(address.AsSpan(0, 2), (ushort)AfUnix);
            bytes.CopyTo(address, 2);
            if (NativeBind(fd, address, 2 + bytes.Length + 1) != 0)
                throw new IOException($"bind({path}) failed: errno {Marshal.GetLastPInvokeError()}");
            File.SetUnixFileMode(path, SocketMode);
            if (NativeListen(fd, Backlog) != 0)
                throw new IOException($"listen({path}) failed: errno {Marshal.GetLastPInvokeError()}");
            socket = new Socket(new SafeSocketHandle(fd, ownsHandle: true));
            return socket;
        }
        catch
        {
            if (socket is null) NativeClose(fd);
            throw;
        }
    }

    private const int AfUnix = 1;
    private const int SockStream = 1;
    private const int SockCloexec = 0x80000;

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    private static partial int NativeSocket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "bind", SetLastError = true)]
    private static partial int NativeBind(int fd, byte[] address, int length);

    [LibraryImport("libc", EntryPoint = "listen", SetLastError = true)]
    private static partial int NativeListen(int fd, int backlog);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int NativeClose(int fd);

    /// <summary>
    /// The pid of the process that listens on <paramref name="path"/> (SO_PEERCRED of a connection to it: the process
    /// that called listen()), 0 when something holds it without accepting in time, null when nothing listens there.
    /// </summary>
    public static async Task<int?> ServedByAsync(string path, TimeSpan timeout)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await probe.ConnectAsync(new UnixDomainSocketEndPoint(path), cts.Token).ConfigureAwait(false);
            return PeerCredentials.Of(probe).ProcessId;
        }
        catch (OperationCanceledException)
        {
            // It exists and does not refuse, but its backlog is full: somebody serves it.
            return 0;
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.AddressNotAvailable)
        {
            // ECONNREFUSED: a socket file nobody listens on (a node that died). ENOENT (mapped to AddressNotAvailable): gone.
            return null;
        }
        catch (SocketException e)
        {
            throw new ControlBindException($"cannot tell whether another node serves {path}: {e.Message}", e);
        }
    }

    internal enum FileKind { Missing, Socket, Other, Unknown }

    internal readonly record struct FileState(FileKind Kind, ulong Inode);

    private static FileState Inspect(string path)
    {
        // statx(2) has one layout on every architecture, unlike struct stat: stx_mode (u16) at 28, stx_ino (u64) at 32.
        Span<byte> buffer = stackalloc byte[256];
        int result;
        unsafe
        {
            fixed (byte* p = buffer)
                result = StatX(AtFdCwd, path, AtSymlinkNoFollow, StatxType | StatxIno, p);
        }
        if (result != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno == ENoEnt)
                return new FileState(FileKind.Missing, 0);
            return File.Exists(path) || Directory.Exists(path) ? new FileState(FileKind.Unknown, 0) : new FileState(FileKind.Missing, 0);
        }

        var mode = BitConverter.ToUInt16(buffer[28..30]);
        var inode = BitConverter.ToUInt64(buffer[32..40]);
        return (mode & SIfMt) == SIfSock ? new FileState(FileKind.Socket, inode) : new FileState(FileKind.Other, inode);
    }

    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 0x1;
    private const uint StatxIno = 0x100;
    private const int SIfMt = 0xF000;
    private const int SIfSock = 0xC000;
    private const int ENoEnt = 2;

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int StatX(int dirFd, string path, int flags, uint mask, byte* statxBuffer);
}

/// <summary>The control socket could not be served; the message says why and names the path.</summary>
internal sealed class ControlBindException : Exception
{
    public ControlBindException(string message, Exception? inner = null) : base(message, inner) { }
}
