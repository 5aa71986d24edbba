using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace ShardRuntime.Runtime.Loading;

/// <summary>
/// Reads a file an operator named (a handler assembly, its symbols, its dependencies, a config file) without ever
/// blocking on something that is not a regular file: it is opened with O_NONBLOCK (so a FIFO with no writer cannot
/// hold up the open), its type and size are taken from the opened descriptor (statx), and only a regular file of at
/// most the given size is read. /dev/zero, a FIFO, a directory or a socket is refused with what it is. Linux only.
/// </summary>
public static partial class RegularFile
{
    /// <summary>
    /// Largest handler assembly (or symbols file, or private dependency) that is loaded: a bigger file is not a handler
    /// assembly, and reading it would only hold a load up and fill the memory.
    /// </summary>
    public const long MaxAssemblySize = 64L * 1024 * 1024;

    private const int ORdOnly = 0;
    private const int ONonBlock = 0x800;
    private const int OCloExec = 0x80000;
    private const int OPath = 0x200000;
    private const int AtFdCwd = -100;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxType = 0x1;
    private const uint StatxSize = 0x200;
    private const int StatxBufferSize = 256;
    private const int Enoent = 2;
    private const int Eacces = 13;

    /// <summary>
    /// Reads <paramref name="path"/> whole when it is a regular file of at most <paramref name="maxSize"/> bytes and,
    /// when <paramref name="allowedDirectories"/> is not null, its real path (symbolic links and <c>..</c> resolved, as
    /// the kernel opened it) lies inside one of them. <paramref name="kind"/> names what the file is for in a refusal.
    /// </summary>
    /// <exception cref="IOException">The file is refused or cannot be read; the message names the path and why.</exception>
    public static byte[] Read(string path, long maxSize, IReadOnlyList<string>? allowedDirectories = null, string kind = "a handler assembly")
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var handle = Open(path, ORdOnly | ONonBlock | OCloExec);
        var (type, size) = Stat(handle, path);
        if (TypeRefusal(path, type) is { } notRegular) throw new IOException(notRegular);
        if (size > maxSize)
            throw new IOException(TooBig(path, size, maxSize, kind));
        if (allowedDirectories is not null && OutsideRefusal(path, RealPathOf(handle, path), allowedDirectories) is { } outside)
            throw new IOException(outside);

        var image = new byte[size];
        var total = 0;
        while (total < image.Length)
        {
            var read = RandomAccess.Read(handle, image.AsSpan(total), total);
            if (read == 0) break; // it shrank while being read: what is there is all there is
            total += read;
        }
        return total == image.Length ? image : image.AsSpan(0, total).ToArray();
    }

    /// <summary>Whether <paramref name="path"/> names a regular file (symbolic links followed), found without opening it.</summary>
    public static bool IsRegular(string path)
    {
        var buffer = new byte[StatxBufferSize];
        return StatxPath(AtFdCwd, path, 0, StatxType, buffer) == 0 && ModeOf(buffer) == FileType.Regular;
    }

    /// <summary>
    /// Why <paramref name="path"/> cannot be a handler assembly, found without opening it (so without blocking): it is
    /// not a regular file, or bigger than <paramref name="maxSize"/>; null when it looks fine or does not exist (the load
    /// says so then).
    /// </summary>
    public static string? Check(string path, long maxSize)
    {
        var buffer = new byte[StatxBufferSize];
        if (StatxPath(AtFdCwd, path, 0, StatxType | StatxSize, buffer) != 0) return null;
        var size = (long)BinaryPrimitives.ReadUInt64LittleEndian(buffer.AsSpan(40));
        return TypeRefusal(path, ModeOf(buffer))
            ?? (size > maxSize ? TooBig(path, size, maxSize, "a handler assembly") : null);
    }

    private static string TooBig(string path, long size, long maxSize, string kind) =>
        $"'{path}' is {FormatSize(size)}, more than the {FormatSize(maxSize)} {kind} may have";

    /// <summary>
    /// The real path of an existing directory (symbolic links resolved), or <paramref name="directory"/> as it is when
    /// it cannot be resolved (it does not exist: nothing can lie inside it then anyway).
    /// </summary>
    public static string RealDirectory(string directory)
    {
        try
        {
            using var handle = Open(directory, OPath | OCloExec);
            return RealPathOf(handle, directory);
        }
        catch (IOException)
        {
            return Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        }
    }

    /// <summary>Why <paramref name="realPath"/> (the real path of <paramref name="path"/>) is not inside any of <paramref name="allowedDirectories"/>, or null.</summary>
    public static string? OutsideRefusal(string path, string realPath, IReadOnlyList<string> allowedDirectories)
    {
        foreach (var directory in allowedDirectories)
        {
            var real = RealDirectory(directory);
            var prefix = real.EndsWith('/') ? real : real + "/";
            if (realPath.StartsWith(prefix, StringComparison.Ordinal)) return null;
        }
        var allowed = allowedDirectories.Count == 0 ? "none: built-in handlers only" : string.Join(", ", allowedDirectories);
        var resolved = realPath == path ? "" : $" (really '{realPath}')";
        return $"'{path}'{resolved} is outside the directories this node allows handler assemblies from " +
               $"(shard-runtime.handler-directories: {allowed}); a handler from elsewhere can only come from the node's own config file";
    }

    private static string? TypeRefusal(string path, FileType type) => type switch
    {
        FileType.Regular => null,
        FileType.Fifo => $"'{path}' is a FIFO, not a regular file",
        FileType.CharacterDevice => $"'{path}' is a character device, not a regular file",
        FileType.BlockDevice => $"'{path}' is a block device, not a regular file",
        FileType.Directory => $"'{path}' is a directory, not a regular file",
        FileType.Socket => $"'{path}' is a socket, not a regular file",
        _ => $"'{path}' is not a regular file",
    };

    /// <summary>1.5 KiB, 64 MiB, 4.0 GiB: a size as an operator reads it.</summary>
    public static string FormatSize(long bytes)
    {
        string[] units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];
        double value = bytes;
        var unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return unit == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{bytes} bytes")
            : value == Math.Floor(value) && value >= 10
                ? string.Create(CultureInfo.InvariantCulture, $"{value:0} {units[unit]}")
                : string.Create(CultureInfo.InvariantCulture, $"{value:0.0} {units[unit]}");
    }

    private static SafeFileHandle Open(string path, int flags)
    {
        var fd = OpenNative(path, flags);
        if (fd >= 0) return new SafeFileHandle(fd, ownsHandle: true);
        var errno = Marshal.GetLastPInvokeError();
        throw new IOException(errno switch
        {
            Enoent => Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(path)))
                ? $"the file '{path}' does not exist"
                : $"the file '{path}' does not exist (nor does its folder)",
            Eacces => $"the file '{path}' cannot be read: permission denied",
            _ => $"the file '{path}' cannot be opened: {Marshal.GetPInvokeErrorMessage(errno)}",
        });
    }

    private static (FileType Type, long Size) Stat(SafeFileHandle handle, string path)
    {
        var buffer = new byte[StatxBufferSize];
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            if (StatxPath((int)handle.DangerousGetHandle(), "", AtEmptyPath, StatxType | StatxSize, buffer) != 0)
                throw new IOException($"the file '{path}' cannot be examined: {Marshal.GetLastPInvokeErrorMessage()}");
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
        return (ModeOf(buffer), (long)BinaryPrimitives.ReadUInt64LittleEndian(buffer.AsSpan(40)));
    }

    /// <summary>The path the kernel opened for <paramref name="handle"/>: every symbolic link and <c>..</c> resolved.</summary>
    private static string RealPathOf(SafeFileHandle handle, string path)
    {
        var link = new FileInfo($"/proc/self/fd/{handle.DangerousGetHandle()}").LinkTarget;
        return link ?? throw new IOException($"the real path of '{path}' cannot be found (/proc is not mounted?)");
    }

    // struct statx: stx_mode is a __u16 at offset 28, stx_size a __u64 at offset 40, on every architecture.
    private static FileType ModeOf(byte[] statx) => (FileType)(BinaryPrimitives.ReadUInt16LittleEndian(statx.AsSpan(28)) & 0xF000);

    private enum FileType
    {
        Fifo = 0x1000,
        CharacterDevice = 0x2000,
        Directory = 0x4000,
        BlockDevice = 0x6000,
        Regular = 0x8000,
        SymbolicLink = 0xA000,
        Socket = 0xC000,
    }

    private static unsafe int StatxPath(int dirFd, string path, int flags, uint mask, byte[] buffer)
    {
        fixed (byte* p = buffer)
            return StatX(dirFd, path, flags, mask, p);
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenNative(string path, int flags);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int StatX(int dirFd, string path, int flags, uint mask, byte* statxBuffer);
}
