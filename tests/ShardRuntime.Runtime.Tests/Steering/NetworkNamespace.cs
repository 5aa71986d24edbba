using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace ShardRuntime.Runtime.Tests.Steering;

/// <summary>
/// A fresh network namespace (root only) and a dedicated thread that has entered it with setns(2): a socket is
/// created in the namespace of the thread that creates it, and stays there whichever thread uses it later, so the
/// tests create every socket through <see cref="Create{T}"/> and use them from anywhere. The namespace is deleted
/// on dispose.
/// </summary>
internal sealed partial class NetworkNamespace : IDisposable
{
    private const int CloneNewNet = 0x40000000;
    private readonly BlockingCollection<Action> work = [];
    private readonly Thread thread;

    private NetworkNamespace(string name)
    {
        Name = name;
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        thread = new Thread(() => Serve(entered)) { IsBackground = true, Name = "netns " + name };
        thread.Start();
        entered.Task.GetAwaiter().GetResult();
    }

    public string Name { get; }

    /// <summary>Why namespaces cannot be used here, or null when they can.</summary>
    public static string? Unavailable()
    {
        if (Sys.GetEuid() != 0)
        {
            return "creating a network namespace and setting net.ipv4.tcp_migrate_req needs root";
        }

        return Run("ip", "netns list") is (0, _) ? null : "the ip command (iproute2) is not available";
    }

    /// <summary>Creates the namespace, brings its loopback up, sets tcp_migrate_req, and enters it on a new thread.</summary>
    public static NetworkNamespace Create(int tcpMigrateReq)
    {
        string name = "shardrt-steer-" + Guid.NewGuid().ToString("N")[..8];
        Check(Run("ip", $"netns add {name}"));
        try
        {
            Check(Run("ip", $"-n {name} link set lo up"));
            Check(Run("ip", $"netns exec {name} sysctl -qw net.ipv4.tcp_migrate_req={tcpMigrateReq.ToString(CultureInfo.InvariantCulture)}"));
            return new NetworkNamespace(name);
        }
        catch
        {
            Run("ip", $"netns del {name}");
            throw;
        }
    }

    /// <summary>Runs <paramref name="create"/> on the thread inside the namespace and returns what it made.</summary>
    public T Create<T>(Func<T> create)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        work.Add(() =>
        {
            try
            {
                done.SetResult(create());
            }
            catch (Exception ex)
            {
                done.SetException(ex);
            }
        });
        return done.Task.GetAwaiter().GetResult();
    }

    /// <summary>The value of a sysctl as the namespace's thread sees it (/proc/sys/net is per namespace of the reading thread).</summary>
    public string ReadSysctl(string path) => Create(() => File.ReadAllText("/proc/sys/" + path).Trim());

    public void Dispose()
    {
        work.CompleteAdding();
        thread.Join(TimeSpan.FromSeconds(10));
        Run("ip", $"netns del {Name}");
        work.Dispose();
    }

    private void Serve(TaskCompletionSource entered)
    {
        try
        {
            using var handle = File.OpenHandle($"/var/run/netns/{Name}");
            if (Sys.SetNs((int)handle.DangerousGetHandle(), CloneNewNet) != 0)
            {
                throw new InvalidOperationException($"setns({Name}) failed with errno {Marshal.GetLastPInvokeError()}.");
            }

            entered.SetResult();
        }
        catch (Exception ex)
        {
            entered.SetException(ex);
            return;
        }

        foreach (var item in work.GetConsumingEnumerable())
        {
            item();
        }
    }

    private static (int ExitCode, string Output) Run(string file, string arguments)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(file, arguments)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                process.Kill();
                return (-1, $"{file} {arguments} did not finish within 30 s");
            }

            return (process.ExitCode, output);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return (-1, ex.Message);
        }
    }

    private static void Check((int ExitCode, string Output) result)
    {
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"exit code {result.ExitCode}: {result.Output}");
        }
    }

    private static partial class Sys
    {
        [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
        public static partial int SetNs(int fd, int nsType);

        [LibraryImport("libc", EntryPoint = "geteuid")]
        public static partial uint GetEuid();
    }
}
