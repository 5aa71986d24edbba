using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace ShardRuntime.Actors.Control;

/// <summary>
/// Creates, inspects and removes the control socket's file: the runtime directory (0700), the check that no live node
/// already serves the path, the bound and listening socket (0600), and the clean-up on stop.
/// </summary>
internal static partial class ControlSocketFile
{
    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode SocketMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const int Backlog = 64;

    /// <summary>A bound, listening control socket and the kernel inode of its file (0 when unknown).</summary>
    public sealed record Bound(Socket Socket, string Path, ulong Inode);

    /// <summary>
    /// Binds and listens on <paramref name="path"/>. A socket file left by a dead node is removed; a live node on the path
    /// (one that accepts a connection within <paramref name="probeTimeout"/>) fails with "another node already serves".
    /// Every failure is a <see cref="ControlBindException"/> whose message names the path.
    /// </summary>
    public static async Task<Bound> BindAsync(string path, TimeSpan probeTimeout)
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
            if (existing.Kind == FileKind.Other)
                throw new ControlBindException($"{path} exists and is not a socket; remove it or set shard-runtime.control.socket-path to another path");
            if (existing.Kind is FileKind.Socket or FileKind.Unknown)
            {
                if (await IsServedAsync(fullPath, probeTimeout).ConfigureAwait(false))
                    throw new ControlBindException($"another node already serves {path}");
                File.Delete(fullPath);
            }

            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                socket.Bind(new UnixDomainSocketEndPoint(fullPath));
                File.SetUnixFileMode(fullPath, SocketMode);
                socket.Listen(Backlog);
                return new Bound(socket, fullPath, Inspect(fullPath).Inode);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        catch (Exception e) when (e is not ControlBindException)
        {
            throw new ControlBindException($"cannot serve the control socket {path}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Closes the listening socket and removes its file, but only the file this node bound: one that another node
    /// created on the same path since then (a different inode) is left alone.
    /// </summary>
    public static void Close(Bound bound)
    {
        // .NET unlinks the file of a socket it bound when the socket is disposed; the explicit delete covers a
        // runtime that does not.
        bound.Socket.Dispose();
        var now = Inspect(bound.Path);
        if (now.Kind == FileKind.Socket && bound.Inode != 0 && now.Inode == bound.Inode)
        {
            try { File.Delete(bound.Path); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>True when something accepts connections on <paramref name="path"/> (or holds it without accepting in time).</summary>
    private static async Task<bool> IsServedAsync(string path, TimeSpan timeout)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await probe.ConnectAsync(new UnixDomainSocketEndPoint(path), cts.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            // It exists and does not refuse, but its backlog is full: somebody serves it.
            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.AddressNotAvailable)
        {
            // ECONNREFUSED: a socket file nobody listens on (a node that died). ENOENT (mapped to AddressNotAvailable): gone.
            return false;
        }
        catch (SocketException e)
        {
            throw new ControlBindException($"cannot tell whether another node serves {path}: {e.Message}", e);
        }
    }

    private enum FileKind { Missing, Socket, Other, Unknown }

    private readonly record struct FileState(FileKind Kind, ulong Inode);

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
