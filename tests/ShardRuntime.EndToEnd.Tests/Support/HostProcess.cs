using System.Diagnostics;
using System.Runtime.CompilerServices;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests.Support;

/// <summary>
/// One real node: <c>dotnet shardruntime.dll run --config &lt;file&gt; --control-socket &lt;path&gt;</c> with its own temp
/// directory (config file, control socket), its output captured, the command-line tool pointed at its control socket,
/// and SIGTERM by PID on dispose (a kill of that PID only when it outlives the bound).
/// </summary>
internal sealed class HostProcess : IAsyncDisposable
{
    public static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(45);

    private const int KeptLines = 2000;
    private const int PrintedLines = 60;

    private readonly ITestOutputHelper output;
    private readonly DirectoryInfo directory;
    private readonly Process process;
    private readonly Queue<string> lines = new();
    private readonly Dictionary<string, StrongBox<int>> counted = new(StringComparer.Ordinal);
    private readonly Stopwatch started = Stopwatch.StartNew();

    private HostProcess(ITestOutputHelper output, DirectoryInfo directory, string configPath, string controlSocket, Process process)
    {
        this.output = output;
        this.directory = directory;
        ConfigPath = configPath;
        ControlSocket = controlSocket;
        this.process = process;
    }

    public string ConfigPath { get; }

    public string ControlSocket { get; }

    public int ProcessId => process.Id;

    public bool HasExited => process.HasExited;

    /// <summary>When the node's process exited (local time, as .NET saw it reaped); only once <see cref="HasExited"/>.</summary>
    public DateTime ExitTime => process.ExitTime;

    /// <summary>Everything the node wrote so far (stdout and stderr, interleaved, the last <see cref="KeptLines"/> lines).</summary>
    public string Output
    {
        get
        {
            lock (lines)
                return string.Join('\n', lines);
        }
    }

    /// <summary>
    /// Starts counting the node's lines that contain <paramref name="text"/> (all of them, not only the kept ones); read
    /// the count with <see cref="CountedLines"/>.
    /// </summary>
    public void CountLines(string text)
    {
        lock (lines)
            counted.TryAdd(text, new StrongBox<int>(0));
    }

    /// <summary>How many lines containing <paramref name="text"/> the node wrote since <see cref="CountLines"/>.</summary>
    public int CountedLines(string text)
    {
        lock (lines)
            return counted[text].Value;
    }

    /// <summary>
    /// A node config with the given listeners block (the contents of <c>shard-runtime.listeners { }</c>) and a short
    /// shutdown drain so that a forgotten connection cannot hold a test for the default 30 s.
    /// </summary>
    public static string Config(string listeners, string more = "") => $$"""
        shard-runtime {
          listeners {
        {{listeners}}
          }
          shutdown.drain-timeout = 10s
          # Short, so that upgrades in a row stay quick; the specs of the period itself set their own.
          upgrade { stability-period = 500ms, rollback-grace = 1s }
        }
        {{more}}
        """;

    /// <summary>
    /// Writes <paramref name="configText"/> to a fresh temp directory and starts a node on it (null: no file is
    /// written, the node is pointed at a path that does not exist, or one the test writes before the node reads it).
    /// <paramref name="environment"/> adds variables to the node's environment; <paramref name="launcher"/> runs the
    /// node's command line through another program (see <see cref="HostCli.StartInfo"/>), whose PID is then the one
    /// signalled and awaited. <paramref name="controlSocket"/>: another control socket path than the node's own (one
    /// in its temp directory), for example another node's. <paramref name="embeddedConfig"/>: run on the host's embedded
    /// default configuration (no <c>--config</c>; <paramref name="configText"/> is ignored).
    /// </summary>
    public static HostProcess Start(
        ITestOutputHelper output,
        string? configText,
        IReadOnlyDictionary<string, string>? environment = null,
        IReadOnlyList<string>? launcher = null,
        string? controlSocket = null,
        bool embeddedConfig = false)
    {
        var directory = Directory.CreateTempSubdirectory("sr-e2e-");
        var configPath = Path.Combine(directory.FullName, "node.conf");
        controlSocket ??= Path.Combine(directory.FullName, "control.sock");
        if (configText is not null)
            File.WriteAllText(configPath, configText);

        // embeddedConfig: no --config at all, so the node runs on the host's embedded config/hocon (as after `dotnet run`).
        string[] arguments = embeddedConfig ? ["run", "--control-socket", controlSocket] : ["run", "--config", configPath, "--control-socket", controlSocket];
        var info = HostCli.StartInfo(arguments, directory.FullName, launcher);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            info.Environment[name] = value;
        return Launch(output, directory, configPath, controlSocket, info, launcher);
    }

    /// <summary>
    /// Starts <c>dotnet &lt;<paramref name="dll"/>&gt; &lt;control socket&gt; &lt;<paramref name="arguments"/>&gt;</c>: an
    /// app that hosts ShardRuntime itself, with its control socket in a temp directory of its own, watched as a node is.
    /// </summary>
    public static HostProcess StartApp(ITestOutputHelper output, string dll, params string[] arguments)
    {
        var directory = Directory.CreateTempSubdirectory("sr-e2e-");
        var controlSocket = Path.Combine(directory.FullName, "control.sock");
        var info = ToolProcess.StartInfo("dotnet", [dll, controlSocket, .. arguments]);
        info.WorkingDirectory = directory.FullName;
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        return Launch(output, directory, Path.Combine(directory.FullName, "node.conf"), controlSocket, info, launcher: null);
    }

    private static HostProcess Launch(
        ITestOutputHelper output, DirectoryInfo directory, string configPath, string controlSocket, ProcessStartInfo info, IReadOnlyList<string>? launcher)
    {
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var host = new HostProcess(output, directory, configPath, controlSocket, process);
        process.OutputDataReceived += (_, e) => host.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => host.Keep(e.Data);
        if (!process.Start())
            throw new InvalidOperationException("dotnet did not start");
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        output.WriteLine($"started node pid {process.Id} with {configPath}{(launcher is { Count: > 0 } ? $" through {launcher[0]}" : "")}");
        return host;
    }

    /// <summary>Runs the command-line tool against this node's control socket.</summary>
    public Task<CliResult> RunCliAsync(params string[] args) =>
        HostCli.RunAsync([.. args, "--control-socket", ControlSocket]);

    /// <summary><c>status --json</c>, which must succeed.</summary>
    public async Task<NodeStatus> StatusAsync()
    {
        var result = await RunCliAsync("status", "--json");
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"status failed: {result}\n{Tail()}");
        return NodeStatus.Parse(result.StdOut);
    }

    /// <summary>
    /// Polls <c>status --json</c> through the tool until every listener has all its desired shards accepting and the node
    /// logged that it serves (its start-up, the cluster actor included, is over); fails
    /// at once (with the node's output) when the node exits, and after <see cref="ReadyTimeout"/>.
    /// </summary>
    public async Task<NodeStatus> WaitUntilReadyAsync()
    {
        var stopwatch = Stopwatch.StartNew();
        CliResult? last = null;
        var ready = await Eventually.ValueAsync(async () =>
        {
            if (process.HasExited)
                throw new InvalidOperationException($"the node exited with code {process.ExitCode} before it was ready\n{Tail()}");
            last = await RunCliAsync("status", "--json");
            if (last.ExitCode != 0) return null;
            var status = NodeStatus.Parse(last.StdOut);
            // Listeners accept, and the whole node has started (its cluster actor too): it says it serves.
            var serving = status.Listeners.All(l => l.Shards.Count == l.DesiredShards && l.Accepting.Count() == l.DesiredShards && l.Bound.Port != 0)
                && Output.Contains($"Node {process.Id} serving", StringComparison.Ordinal);
            return serving ? status : null;
        }, status => status is not null, ReadyTimeout, TimeSpan.FromMilliseconds(100));
        if (ready is null)
            throw new TimeoutException($"the node was not ready within {ReadyTimeout.TotalSeconds}s; last status: {last}\n{Tail()}");
        output.WriteLine($"node pid {process.Id} ready after {stopwatch.Elapsed.TotalSeconds:0.00}s");
        return ready;
    }

    /// <summary>
    /// Polls <c>status --json</c> until <paramref name="condition"/> holds and returns that status; after
    /// <paramref name="timeout"/> returns the last one, for the caller to assert on.
    /// </summary>
    public Task<NodeStatus> StatusWhenAsync(Func<NodeStatus, bool> condition, TimeSpan timeout) =>
        Eventually.ValueAsync(StatusAsync, condition, timeout, TimeSpan.FromMilliseconds(100));

    /// <summary>Waits until the node's output contains <paramref name="text"/>; throws (with the output) after <paramref name="timeout"/>.</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        if (!await Eventually.TrueAsync(() => Output.Contains(text, StringComparison.Ordinal), timeout, TimeSpan.FromMilliseconds(50)))
            throw new TimeoutException($"the node did not log '{text}' within {timeout.TotalSeconds}s\n{Output}");
    }

    /// <summary>Sends SIGTERM to the node's PID.</summary>
    public void Terminate()
    {
        if (!process.HasExited)
            Posix.Signal(process.Id, Posix.SigTerm);
    }

    /// <summary>Waits for the node to exit by itself; returns its exit code, or throws (with its output) after <paramref name="timeout"/>.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"the node (pid {process.Id}) did not exit within {timeout.TotalSeconds}s\n{Tail()}");
        }
        return process.ExitCode;
    }

    /// <summary>
    /// Waits for the node's process to exit, without waiting for the end of its output: successors it started write to
    /// the same pipes and keep them open. Returns the exit code, or throws after <paramref name="timeout"/>.
    /// </summary>
    public async Task<int> WaitForProcessExitAsync(TimeSpan timeout)
    {
        if (!await Eventually.TrueAsync(() => process.WaitForExit(0), timeout, TimeSpan.FromMilliseconds(50)))
            throw new TimeoutException($"the node (pid {process.Id}) did not exit within {timeout.TotalSeconds}s\n{Tail()}");
        return process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!process.HasExited)
            {
                Terminate();
                // Not WaitForExitAsync: it also waits for the end of the output, which a successor (sharing the pipes) holds.
                try
                {
                    await WaitForProcessExitAsync(StopTimeout);
                }
                catch (TimeoutException)
                {
                    output.WriteLine($"node pid {process.Id} ignored SIGTERM for {StopTimeout.TotalSeconds}s; killing it");
                    process.Kill(entireProcessTree: true);
                    await WaitForProcessExitAsync(StopTimeout);
                }
            }
            output.WriteLine($"node pid {process.Id} exited with code {process.ExitCode} after {started.Elapsed.TotalSeconds:0.0}s");
            output.WriteLine(Tail());
        }
        finally
        {
            process.Dispose();
            try
            {
                directory.Delete(recursive: true);
            }
            catch (IOException)
            {
                // a leftover temp directory is harmless
            }
        }
    }

    private void Keep(string? line)
    {
        if (line is null)
            return;
        lock (lines)
        {
            foreach (var (text, count) in counted)
            {
                if (line.Contains(text, StringComparison.Ordinal))
                    count.Value++;
            }
            lines.Enqueue(line);
            while (lines.Count > KeptLines)
                lines.Dequeue();
        }
    }

    private string Tail()
    {
        lock (lines)
            return $"--- last {Math.Min(PrintedLines, lines.Count)} line(s) of node pid {process.Id} ---\n" +
                string.Join('\n', lines.Skip(Math.Max(0, lines.Count - PrintedLines)));
    }
}
