using System.Runtime.InteropServices;

namespace ShardRuntime.Runtime.Upgrade;

/// <summary>
/// The other process of an upgrade, known by its pid (SO_PEERCRED, or the child this process started): whether it
/// runs, waiting for it to end (a pidfd, Linux 5.3+, becomes readable when it exits, child or not; /proc is polled
/// where there is none), and ending it: SIGTERM, then SIGKILL after a grace.
/// </summary>
public static partial class PeerProcess
{
    private const int SigTerm = 15;
    private const int SigKill = 9;
    private const int SysPidfdOpen = 434; // same number on x86_64 and arm64
    private const short PollIn = 0x1;
    private const int Eintr = 4;
    private static readonly TimeSpan PollSlice = TimeSpan.FromMilliseconds(100);

    /// <summary>Whether <paramref name="pid"/> runs: it has a /proc entry and is not a zombie (a zombie holds no descriptor).</summary>
    public static bool IsAlive(int pid)
    {
        if (pid <= 0) return false;
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[0];
            return state is not ("Z" or "X");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// Waits until <paramref name="pid"/> has exited (true) or <paramref name="timeout"/> passed (false). Cancelling
    /// ends the wait early with false. Runs on a thread-pool thread in slices of 100 ms; never blocks the caller.
    /// </summary>
    public static Task<bool> WaitForExitAsync(int pid, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        Task.Run(() => WaitForExit(pid, timeout, cancellationToken), CancellationToken.None);

    /// <summary>
    /// Ends <paramref name="pid"/>: SIGTERM, and SIGKILL once <paramref name="grace"/> passed; then waits (bounded by
    /// <paramref name="grace"/> again) until it is gone. Returns how it ended, in words for a log line or a status.
    /// </summary>
    public static async Task<string> EndAsync(int pid, TimeSpan grace)
    {
        if (!IsAlive(pid)) return $"pid {pid} had exited already";
        if (kill(pid, SigTerm) != 0) return $"pid {pid} could not be signalled (errno {Marshal.GetLastPInvokeError()})";
        if (await WaitForExitAsync(pid, grace).ConfigureAwait(false)) return $"pid {pid} exited on SIGTERM";
        // SIGKILL also ends a process stopped with SIGSTOP, which SIGTERM does not while it is stopped.
        kill(pid, SigKill);
        var bound = grace > TimeSpan.FromSeconds(1) ? grace : TimeSpan.FromSeconds(1);
        return await WaitForExitAsync(pid, bound).ConfigureAwait(false)
            ? $"pid {pid} killed (SIGKILL) after a {grace.TotalSeconds:0.###} s grace"
            : $"pid {pid} still runs {bound.TotalSeconds:0.###} s after SIGKILL";
    }

    private static bool WaitForExit(int pid, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var until = DateTime.UtcNow + timeout;
        var pidfd = pid > 0 ? (int)syscall(SysPidfdOpen, pid, 0) : -1;
        try
        {
            while (true)
            {
                if (!IsAlive(pid)) return true;
                var left = until - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || cancellationToken.IsCancellationRequested) return false;
                var slice = left < PollSlice ? left : PollSlice;
                if (pidfd < 0)
                {
                    Thread.Sleep(slice);
                    continue;
                }
                var fds = new PollFd { Fd = pidfd, Events = PollIn };
                if (poll(ref fds, 1, (int)Math.Ceiling(slice.TotalMilliseconds)) > 0 && (fds.Revents & PollIn) != 0) return true;
                if (Marshal.GetLastPInvokeError() is not (0 or Eintr)) Thread.Sleep(slice);
            }
        }
        finally
        {
            if (pidfd >= 0) close(pidfd);
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);

    [LibraryImport("libc", SetLastError = true)]
    private static partial long syscall(long number, int pid, uint flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int poll(ref PollFd fds, ulong count, int timeout);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
