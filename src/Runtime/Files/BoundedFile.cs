using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace ShardRuntime.Runtime.Files;

/// <summary>
/// Reads an operator-named file that must be a regular file of bounded size, without ever blocking on it: the file is
/// opened with O_NONBLOCK (a FIFO with no writer cannot hold the open), checked with fstat on the open descriptor (no
/// race between the check and the read), and read up to the bound. A FIFO, a device such as /dev/zero, a directory, a
/// socket or a file past the bound is refused with a <see cref="BoundedFileException"/> that says which.
/// </summary>
public static partial class BoundedFile
{
    private const int ORdOnly = 0, ONonBlock = 0x800, OCloExec = 0x80000;
    private const uint SIfMt = 0xF000, SIfReg = 0x8000, SIfDir = 0x4000, SIfIfo = 0x1000, SIfChr = 0x2000, SIfBlk = 0x6000, SIfSock = 0xC000;

    /// <summary>The file's bytes; throws <see cref="BoundedFileException"/> (an <see cref="IOException"/>) naming why it cannot be used.</summary>
    public static byte[] ReadAll(string path, long maxBytes)
    {
        var fd = Open(path, ORdOnly | ONonBlock | OCloExec);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new BoundedFileException(path, errno switch
            {
                2 => "does not exist",
                13 => "cannot be read by this user (permission denied)",
                20 => "is not reachable (a part of the path is not a directory)",
                _ => $"cannot be opened: {Marshal.GetPInvokeErrorMessage(errno)}",
            });
        }
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        var (mode, size) = Stat(handle, path);
        if ((mode & SIfMt) != SIfReg)
            throw new BoundedFileException(path, $"is {KindOf(mode)}, not a regular file");
        if (size > maxBytes)
            throw new BoundedFileException(path, $"is {Size(size)}, more than the {Size(maxBytes)} allowed");
        var bytes = new byte[size];
        var read = 0;
        while (read < bytes.Length)
        {
            var n = RandomAccess.Read(handle, bytes.AsSpan(read), read);
            if (n == 0) break; // shrank while read: what is there
            read += n;
        }
        return read == bytes.Length ? bytes : bytes[..read];
    }

    /// <summary>What kind of file a st_mode names, for messages ("a FIFO (named pipe)", "a character device", ...).</summary>
    internal static string KindOf(uint mode) => (mode & SIfMt) switch
    {
        SIfDir => "a directory",
        SIfIfo => "a FIFO (named pipe)",
        SIfChr => "a character device",
        SIfBlk => "a block device",
        SIfSock => "a Unix domain socket",
        SIfReg => "a regular file",
        _ => "not a regular file",
    };

    /// <summary>A byte count as people read it: 512 B, 64 KiB, 4.0 GiB.</summary>
    public static string Size(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => $"{bytes / 1024.0:0.#} KiB",
        < 1024L * 1024 * 1024 => $"{bytes / (1024.0 * 1024):0.#} MiB",
        _ => $"{bytes / (1024.0 * 1024 * 1024):0.#} GiB",
    };

    private static (uint Mode, long Size) Stat(SafeFileHandle handle, string path)
    {
        // struct stat: st_mode is at offset 24 on x86-64 and 16 on arm64; st_size at 48 on both.
        var modeOffset = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => 24,
            Architecture.Arm64 => 16,
            var other => throw new PlatformNotSupportedException($"reading {path}: struct stat layout of {other} is not known"),
        };
        Span<byte> stat = stackalloc byte[256];
        if (FStat((int)handle.DangerousGetHandle(), ref MemoryMarshal.GetReference(stat)) != 0)
            throw new BoundedFileException(path, $"cannot be examined: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        return (MemoryMarshal.Read<uint>(stat[modeOffset..]), MemoryMarshal.Read<long>(stat[48..]));
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fstat", SetLastError = true)]
    private static partial int FStat(int fd, ref byte stat);
}
