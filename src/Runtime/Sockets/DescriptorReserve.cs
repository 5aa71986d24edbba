using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace ShardRuntime.Runtime.Sockets;

/// <summary>
/// File descriptors held back from connections (opened on /dev/null) so that a process that runs out of descriptors
/// (EMFILE) still has some for itself: the .NET runtime needs them too (the JIT's executable memory, files it opens),
/// and fails fast with "Out of memory" when it gets none. When accept() fails with EMFILE the accept loop gives the
/// reserve back to the process and pauses; before it accepts again it takes the reserve back, and keeps pausing while
/// it cannot. Connections therefore never use the last descriptors. Process-wide and thread-safe.
/// </summary>
public static partial class DescriptorReserve
{
    /// <summary>How many descriptors are held back.</summary>
    public const int Size = 16;

    private static readonly Lock Gate = new();
    private static readonly List<FileStream> Held = new();

    /// <summary>True while the reserve is held (connections cannot take its descriptors).</summary>
    public static bool IsHeld
    {
        get
        {
            lock (Gate) return Held.Count == Size;
        }
    }

    /// <summary>Takes the reserve (again). False when the process has too few free descriptors to do so.</summary>
    public static bool TryHold()
    {
        lock (Gate)
        {
            try
            {
                while (Held.Count < Size)
                    Held.Add(new FileStream("/dev/null", FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0));
                return true;
            }
            catch (IOException)
            {
                return false; // EMFILE/ENFILE: what was taken stays held; try again later
            }
        }
    }

    /// <summary>Gives the reserve back to the process, for it to use while connections hold every other descriptor.</summary>
    public static void Release()
    {
        lock (Gate)
        {
            foreach (var stream in Held) stream.Dispose();
            Held.Clear();
        }
    }

    /// <summary>
    /// Whether the connection <paramref name="accepted"/> took one of the last <see cref="Size"/> descriptors the process may open (the
    /// held reserve, opened at start, has low numbers; descriptors are numbered lowest-free first, so a number tells how
    /// many are open). Connections
    /// then stop there: the runtime keeps that many free ones for itself at all times, not only once accept() failed
    /// (it fails fast with "Out of memory" when it needs one and gets none). Reads the current limit (prlimit may change it).
    /// </summary>
    public static bool IsNearLimit(Readiness.AcceptedSocket accepted) => IsNearLimit((long)accepted.Fd);

    /// <summary>Whether the descriptor the process would get next is one of the last free ones (see <see cref="IsNearLimit(Readiness.AcceptedSocket)"/>).</summary>
    public static bool IsNearLimit()
    {
        try
        {
            using var probe = new FileStream("/dev/null", FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
            return IsNearLimit(probe.SafeFileHandle.DangerousGetHandle().ToInt64());
        }
        catch (IOException)
        {
            return true; // none free at all
        }
    }

    private static bool IsNearLimit(long descriptor) =>
        getrlimit(RlimitNofile, out var limit) == 0 && limit.Current < long.MaxValue && descriptor >= (long)limit.Current - Size;

    private const int RlimitNofile = 7;

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int getrlimit(int resource, out RLimit limit);
}
