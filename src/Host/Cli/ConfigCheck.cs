using System.CommandLine;
using System.Globalization;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Host.Node;
using ShardRuntime.Runtime.Loading;
using ShardRuntime.Runtime.Sockets;
using ShardRuntime.Runtime.Tls;

namespace ShardRuntime.Host.Cli;

/// <summary>
/// <c>shardruntime check [--config FILE]</c>: validates a node's configuration without starting a node, as
/// <c>nginx -t</c> and <c>haproxy -c</c> do. The file's syntax, its keys (unknown ones with the nearest valid key), its
/// values, its handler names, its handler assemblies (a regular file that loads and has the named type implementing the
/// handler contract) and its endpoints (free, or served by a node of this user with SO_REUSEPORT, which a node started
/// on the file joins). Every problem is listed on stderr, then it exits <see cref="ExitCodes.ConfigInvalid"/>; with none,
/// a summary of the listeners goes to stdout and it exits 0.
/// </summary>
internal static class ConfigCheck
{
    public static async Task<int> RunAsync(FileInfo? file, InvocationConfiguration console)
    {
        var (problems, summary) = Run(file);
        if (problems.Count > 0)
        {
            foreach (var problem in problems)
                await console.Error.WriteLineAsync($"error: {problem}").ConfigureAwait(false);
            await console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{problems.Count} problem(s) found")).ConfigureAwait(false);
            return ExitCodes.ConfigInvalid;
        }
        foreach (var line in summary)
            await console.Output.WriteLineAsync(line).ConfigureAwait(false);
        return ExitCodes.Success;
    }

    /// <summary>Every problem of the configuration, each naming the file or the listener; and, when there is none, the summary.</summary>
    private static (IReadOnlyList<string> Problems, IReadOnlyList<string> Summary) Run(FileInfo? file)
    {
        Akka.Configuration.Config config;
        string source;
        try
        {
            (config, source) = NodeConfig.Parse(file);
        }
        catch (NodeConfigException e)
        {
            return ([e.Message], []);
        }

        var check = NodeConfig.Check(config);
        var problems = check.Problems.Select(p => $"{source}: {p.Message}").ToList();
        var summary = new List<string> { string.Create(CultureInfo.InvariantCulture, $"{source}: ok, {check.Listeners.Count} listener(s)") };
        foreach (var listener in check.Listeners)
        {
            var handler = CheckHandler(listener, source, problems) + CheckTls(listener, source, problems, out var warnings);
            var options = new ListenerSocketOptions(listener.EndPoint, listener.Protocol, listener.Backlog);
            var endpoint = CheckEndpoint(listener.Name, options, problems);
            var shards = listener.Shards == 0 ? $"{listener.EffectiveShards} shards (one per core)" : $"{listener.Shards} shard(s)";
            summary.Add($"  {listener.Name}: {options}, {shards}, handler {handler}; {endpoint}");
            summary.AddRange(warnings.Select(w => $"    warning: {w}"));
        }
        return (problems, summary);
    }

    /// <summary>The handler as the summary shows it; a handler assembly that cannot be loaded is a problem.</summary>
    private static string CheckHandler(ListenerSettings listener, string source, List<string> problems)
    {
        if (listener.HandlerAssembly is not { } assembly)
            return listener.Handler;
        var key = $"{ShardRuntimeSettings.Section}.listeners.{listener.Name}.handler-assembly";
        if (RegularFile.Check(assembly, RegularFile.MaxAssemblySize) is not null)
            return assembly; // not a regular file, or too big: NodeConfig.Check has listed it already (nothing is opened)
        try
        {
            var generation = HandlerLoader.Load(new HandlerAssemblySpec(assembly, listener.HandlerType!), 1);
            generation.Retire(); // no connection ever had it: its context unloads now
            return $"{listener.HandlerType} from {assembly}";
        }
        catch (HandlerLoadException e)
        {
            problems.Add($"{source}: Setting '{key}': {e.Message}");
            return assembly;
        }
    }

    /// <summary>
    /// A TLS listener's files read as the node reads them (the summary names the certificate); a file that cannot serve
    /// is a problem naming the key and the file, an expired certificate a warning.
    /// </summary>
    private static string CheckTls(ListenerSettings listener, string source, List<string> problems, out IReadOnlyList<string> warnings)
    {
        warnings = [];
        if (listener.Tls is not { } tls)
            return "";
        try
        {
            var material = TlsMaterial.Load(tls, DateTime.UtcNow);
            warnings = material.Warnings;
            return string.Create(CultureInfo.InvariantCulture,
                $", tls {material.Certificate.Subject} (until {material.Certificate.NotAfter.ToUniversalTime():yyyy-MM-dd}) from {tls.Certificate}");
        }
        catch (TlsMaterialException e)
        {
            problems.Add($"{source}: Setting '{e.Key}': {e.Problem}");
            return ", tls refused";
        }
    }

    /// <summary>Whether the endpoint can be bound now, as the summary says it; one that cannot is a problem.</summary>
    private static string CheckEndpoint(string listener, ListenerSocketOptions options, List<string> problems)
    {
        if (options.EndPoint.Port == 0)
            return "port 0: the kernel picks a free port";
        var probe = EndpointProbe.Probe(options);
        if (probe.Refusal is { } refusal)
        {
            problems.Add($"listener '{listener}': {refusal.Message}");
            return "not bindable";
        }
        if (probe.Sharing.Count == 0)
            return "endpoint free";
        var holders = probe.ProcessIds.Count == 0
            ? "no process this user may see"
            : string.Join(", ", probe.ProcessIds.Select(pid => $"pid {pid.ToString(CultureInfo.InvariantCulture)} ({CommandOf(pid)})"));
        return string.Create(CultureInfo.InvariantCulture,
            $"endpoint served by {probe.Sharing.Count} SO_REUSEPORT socket(s) of this user, held by {holders}: a node started on this file joins their group");
    }

    private static string CommandOf(int pid)
    {
        try
        {
            var words = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);
            var command = string.Join(' ', words);
            return command.Length <= 120 ? command : command[..117] + "...";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "exited";
        }
    }
}
