namespace ShardRuntime.Runtime.Sockets;

/// <summary>
/// File descriptors held back from connections (opened on /dev/null) so that a process that runs out of descriptors
/// (EMFILE) still has some for itself: the .NET runtime needs them too (the JIT's executable memory, files it opens),
/// and fails fast with "Out of memory" when it gets none. When accept() fails with EMFILE the accept loop gives the
/// reserve back to the process and pauses; before it accepts again it takes the reserve back, and keeps pausing while
/// it cannot. Connections therefore never use the last descriptors. Process-wide and thread-safe.
/// </summary>
public static class DescriptorReserve
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
}
