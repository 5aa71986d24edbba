using System.Runtime.InteropServices;

namespace ShardRuntime.Runtime.Loading;

/// <summary>
/// What kind of file a handler assembly path names, found without opening it: opening a FIFO blocks until a writer
/// comes, and reading a device may never end, so a path is only read once it is known to be a regular file.
/// </summary>
public static partial class HandlerAssemblyFile
{
    private const int AtFdCwd = -100;
    private const uint StatxType = 0x1;
    private const int ModeOffset = 28; // struct statx: mask, blksize (u32), attributes (u64), nlink, uid, gid (u32), then mode (u16)
    private const int StatxSize = 256;
    private const int TypeMask = 0xF000; // S_IFMT
    private const int RegularType = 0x8000; // S_IFREG
    private const int DirectoryType = 0x4000; // S_IFDIR

    /// <summary>
    /// Why <paramref name="path"/> (symbolic links followed) cannot be a handler assembly: it does not exist, cannot be
    /// looked at, is a directory, or is not a regular file (a FIFO, socket or device); null when it is a regular file.
    /// </summary>
    public static string? FindProblem(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var full = Path.GetFullPath(path);
        Span<byte> buffer = stackalloc byte[StatxSize];
        if (Statx(AtFdCwd, full, 0, StatxType, ref MemoryMarshal.GetReference(buffer)) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return errno == 2 // ENOENT
                ? $"the file '{full}' does not exist"
                : $"the file '{full}' cannot be looked at: {Marshal.GetPInvokeErrorMessage(errno)}";
        }

        return (BitConverter.ToUInt16(buffer.Slice(ModeOffset, 2)) & TypeMask) switch
        {
            RegularType => null,
            DirectoryType => $"'{full}' is a directory, not an assembly file",
            _ => $"'{full}' is not a regular file (a FIFO, socket or device), so it is not read",
        };
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int directoryFd, string path, int flags, uint mask, ref byte buffer);
}
