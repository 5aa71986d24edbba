using System.Diagnostics;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests.Support;

/// <summary>
/// The processes of one node across upgrades: the first is a <see cref="HostProcess"/>, its successors are started by
/// the node itself (not children of the test), so they are tracked by the PIDs <c>status</c> and <c>upgrade</c> name
/// and ended by PID on dispose: SIGTERM, then SIGKILL of a PID that outlives the bound.
/// </summary>
internal sealed class NodeChain(ITestOutputHelper output) : IAsyncDisposable
{
    private readonly List<int> pids = [];

    public IReadOnlyList<int> ProcessIds => pids;

    /// <summary>Remembers <paramref name="pid"/> (a successor) so that it is ended with the test.</summary>
    public void Track(int pid)
    {
        lock (pids)
        {
            if (!pids.Contains(pid))
                pids.Add(pid);
        }
    }

    /// <summary>Waits until <paramref name="pid"/> no longer runs; false after <paramref name="timeout"/>.</summary>
    public static Task<bool> WaitUntilGoneAsync(int pid, TimeSpan timeout) =>
        Eventually.TrueAsync(() => !Posix.IsRunning(pid), timeout, TimeSpan.FromMilliseconds(50));

    public async ValueTask DisposeAsync()
    {
        int[] all;
        lock (pids)
            all = [.. pids];
        foreach (var pid in all.Where(Posix.IsRunning))
        {
            try
            {
                Posix.Signal(pid, Posix.SigTerm);
            }
            catch (InvalidOperationException)
            {
                // gone in between
            }
        }
        foreach (var pid in all)
        {
            if (await WaitUntilGoneAsync(pid, HostProcess.StopTimeout))
                continue;
            output.WriteLine($"node pid {pid} ignored SIGTERM for {HostProcess.StopTimeout.TotalSeconds}s; killing it");
            try
            {
                Posix.Signal(pid, Posix.SigKill);
            }
            catch (InvalidOperationException)
            {
            }
        }
    }
}
