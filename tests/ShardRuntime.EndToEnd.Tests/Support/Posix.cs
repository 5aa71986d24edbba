using System.Runtime.InteropServices;

namespace ShardRuntime.EndToEnd.Tests.Support;

/// <summary>The few libc calls the specs need: signals by PID and the effective user.</summary>
internal static partial class Posix
{
    public const int SigHup = 1;
    public const int SigTerm = 15;

    /// <summary>Sends <paramref name="signal"/> to the process <paramref name="pid"/>; throws on failure (ESRCH, EPERM).</summary>
    public static void Signal(int pid, int signal)
    {
        if (kill(pid, signal) != 0)
            throw new InvalidOperationException($"kill({pid}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    public static bool IsRoot => geteuid() == 0;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);

    [LibraryImport("libc")]
    private static partial uint geteuid();
}
