using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.Json;
using ShardRuntime.Actors.Cluster;
using ShardRuntime.Actors.Control;
using ShardRuntime.Actors.Settings;

namespace ShardRuntime.Host.Cli;

using Coordinator = ShardRuntime.Actors.Coordination.Coordinator;

/// <summary>
/// The command line of the <c>shardruntime</c> executable: <c>run</c> starts a node, the other commands talk to a
/// running node through its control socket. Exit codes: <see cref="ExitCodes"/>.
/// </summary>
public static class CommandLine
{
    /// <summary>
    /// <c>run --config &lt;file&gt;</c>: the node's HOCON file; read it in the run delegate with
    /// <c>parseResult.GetValue(CommandLine.ConfigOption)</c>.
    /// </summary>
    public static Option<FileInfo?> ConfigOption { get; } = new("--config")
    {
        Description = "HOCON file with the node's configuration (shard-runtime { ... })",
        HelpName = "file",
    };

    /// <summary><c>run --log-format text|json</c>: human-readable console lines (default) or one JSON object per event.</summary>
    public static Option<string> LogFormatOption { get; } = CreateLogFormatOption();

    private static Option<string> CreateLogFormatOption()
    {
        var option = new Option<string>("--log-format")
        {
            Description = "Console log format: text, or json (one structured event per line)",
            DefaultValueFactory = _ => "text",
        };
        option.AcceptOnlyFromAmong("text", "json");
        return option;
    }

    /// <summary>
    /// <c>run --upgrade-from [upgrade-socket]</c>: adopt the running node's listening sockets through its upgrade socket
    /// instead of binding them (a process upgrade). Given without a path: <c>shard-runtime.upgrade.socket-path</c>.
    /// Whether it was given at all: <c>parseResult.GetResult(UpgradeFromOption) is not null</c>. <c>--takeover</c> is its
    /// earlier name, kept as an alias: a predecessor of an earlier release starts its successor (the binary on disk now)
    /// with it, so an upgrade across this rename must still parse.
    /// </summary>
    public static Option<string?> UpgradeFromOption { get; } = new("--upgrade-from", "--takeover")
    {
        Description = "Adopt the listening sockets of the running node through its upgrade socket instead of binding them " +
                      "(what `upgrade` starts) [default path: shard-runtime.upgrade.socket-path]",
        HelpName = "upgrade-socket",
        Arity = ArgumentArity.ZeroOrOne,
    };

    /// <summary>
    /// Global <c>--control-socket &lt;path&gt;</c>: the control socket's path, null when not given. <c>status</c> and
    /// <c>scale</c> then use the path of reference.conf (<see cref="ControlSettings.DefaultSocketPath"/> unless set);
    /// <c>run</c> may use a given path to override <c>shard-runtime.control.socket-path</c>.
    /// </summary>
    public static Option<string?> ControlSocketOption { get; } = new("--control-socket")
    {
        Description = $"Path of the node's control socket [default: {ControlSettings.DefaultSocketPath()}]",
        HelpName = "path",
        Recursive = true,
    };

    /// <summary>
    /// How much longer than the node's request timeout (reference.conf) the tool waits for a reply, so that the node's
    /// own timeout error arrives first.
    /// </summary>
    private static readonly TimeSpan ReplyMargin = TimeSpan.FromSeconds(5);

    /// <summary>The root command; <c>run</c> invokes <paramref name="run"/>, the rest is handled here.</summary>
    public static RootCommand Build(Func<ParseResult, CancellationToken, Task<int>> run)
    {
        ArgumentNullException.ThrowIfNull(run);

        var controlSocket = ControlSocketOption;
        var runCommand = new Command("run", "Run a node: serve the configured listeners until SIGTERM or Ctrl+C (the default command)")
        {
            ConfigOption,
            LogFormatOption,
            UpgradeFromOption,
        };
        runCommand.SetAction(run);

        var json = new Option<bool>("--json") { Description = "Print the node's status as JSON instead of tables" };
        var statusCluster = new Option<bool>("--cluster") { Description = "Every node of the cluster (unreachable ones marked) and the desired state" };
        var status = new Command("status", "Show the running node's listeners and shards") { json, statusCluster };
        status.SetAction((result, cancellationToken) => result.GetValue(statusCluster)
            ? ShowAsync<ClusterListeners.ClusterStatus>(ClientFor(result, controlSocket), ControlJson.StatusRequest(cluster: true), ControlJson.ResultField,
                result.GetValue(json), ClusterStatusReport.Format, result.InvocationConfiguration, cancellationToken)
            : ShowAsync<Coordinator.NodeStatus>(ClientFor(result, controlSocket), ControlJson.StatusRequest(), ControlJson.StatusField,
                result.GetValue(json), StatusReport.Format, result.InvocationConfiguration, cancellationToken));

        var listener = new Argument<string>("listener") { Description = "Name of the listener (its key under shard-runtime.listeners)" };
        var shards = new Argument<int>("n")
        {
            Description = $"Number of listening sockets the listener should have, 1 to {ListenerSettings.MaxShards} (to stop serving a listener, remove it from the config file and reload)",
            CustomParser = ParseShardCount,
        };
        var scaleCluster = new Option<bool>("--cluster") { Description = "Set it in the cluster's desired state: every node (of --role) follows" };
        var role = new Option<string?>("--role") { Description = "With --cluster: only on the nodes of this role", HelpName = "role" };
        var scale = new Command("scale", "Set the number of listening sockets (shards) of a listener on the running node, or on every node with --cluster")
        {
            listener,
            shards,
            scaleCluster,
            role,
        };
        scale.Validators.Add(result =>
        {
            if (result.GetValue(role) is not null && !result.GetValue(scaleCluster))
                result.AddError("--role needs --cluster (roles are those of the cluster's nodes)");
        });
        scale.SetAction((result, cancellationToken) => result.GetValue(scaleCluster)
            ? ChangeAsync(ClientFor(result, controlSocket, cluster: true),
                ControlJson.ScaleRequest(result.GetValue(listener)!, result.GetValue(shards), cluster: true, role: result.GetValue(role)), result.InvocationConfiguration, cancellationToken)
            : ScaleAsync(ClientFor(result, controlSocket), result.GetValue(listener)!, result.GetValue(shards), result.InvocationConfiguration, cancellationToken));

        var reloadListener = new Argument<string?>("listener")
        {
            Description = "Only this listener (default: every listener)",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var reloadCluster = new Option<bool>("--cluster")
        {
            Description = "A rolling reload: node after node, each once its new generation serves and its old one drained; stops at the first failure",
        };
        var reloadAllowEmpty = new Option<bool>("--allow-empty")
        {
            Description = "Let a configuration that declares no listener close every listener (refused without it)",
        };
        var reload = new Command("reload", "Load the handler code again as a new generation: new connections get it at once, open ones finish on theirs")
        {
            reloadListener,
            reloadCluster,
            reloadAllowEmpty,
        };
        reload.SetAction((result, cancellationToken) => result.GetValue(reloadCluster)
            ? RollingReloadAsync(ClientFor(result, controlSocket, rollingReload: true), result.GetValue(reloadListener), result.InvocationConfiguration, cancellationToken)
            : ReloadAsync(ClientFor(result, controlSocket), result.GetValue(reloadListener), result.GetValue(reloadAllowEmpty), result.InvocationConfiguration, cancellationToken));

        var listenerCommand = BuildListenerCommand(controlSocket);

        var check = new Command("check",
            "Check a configuration without starting a node (as nginx -t): syntax, keys, values, handlers and their assemblies, " +
            "endpoints free or served by a node of this user; lists every problem and exits 2, or prints a summary and exits 0")
        {
            ConfigOption,
        };
        check.SetAction((result, _) => ConfigCheck.RunAsync(result.GetValue(ConfigOption), result.InvocationConfiguration));

        var upgrade = new Command("upgrade",
            "Replace the running node's process: start a successor (the same command line, so the binaries and config on disk now) " +
            "that adopts every listening socket; the old process then drains and exits. Rolls back if the successor fails");
        upgrade.SetAction((result, cancellationToken) =>
            UpgradeAsync(ClientFor(result, controlSocket, upgrade: true), result.InvocationConfiguration, cancellationToken));

        return new RootCommand("ShardRuntime: TCP servers on SO_REUSEPORT socket shards, scaled and upgraded without dropping a connection")
        {
            controlSocket,
            runCommand,
            status,
            scale,
            reload,
            upgrade,
            listenerCommand,
            check,
        };
    }

    /// <summary><c>listener set|remove|show</c>: the cluster's desired state of listeners.</summary>
    private static Command BuildListenerCommand(Option<string?> controlSocket)
    {
        var name = new Argument<string>("listener") { Description = "Name of the listener" };
        var definition = new Option<string?>("--definition")
        {
            Description = "The listener as a HOCON block, read on each node over its listener-defaults, e.g. 'endpoint = \"0.0.0.0:9000\", handler = echo'",
            HelpName = "hocon",
        };
        var shards = new Option<int?>("--shards") { Description = "Listening sockets per node", HelpName = "n" };
        var roles = new Option<string?>("--roles") { Description = "Comma-separated roles whose nodes serve it; '' for every node", HelpName = "roles" };
        var raise = new Option<bool>("--reload") { Description = "Raise its handler generation: every node reloads its handler at once" };
        var set = new Command("set", "Set a listener in the cluster's desired state (what is given; the rest stays)") { name, definition, shards, roles, raise };
        set.SetAction((result, cancellationToken) =>
        {
            var roleList = result.GetValue(roles) is { } text
                ? text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                : null;
            return ChangeAsync(ClientFor(result, controlSocket, cluster: true),
                ControlJson.ListenerSetRequest(result.GetValue(name)!, result.GetValue(definition), result.GetValue(shards), roleList, result.GetValue(raise)),
                result.InvocationConfiguration, cancellationToken);
        });

        var removeName = new Argument<string>("listener") { Description = "Name of the listener" };
        var remove = new Command("remove", "Remove a listener cluster-wide: every node retires it, whatever its file says, until it is set again") { removeName };
        remove.SetAction((result, cancellationToken) => ChangeAsync(ClientFor(result, controlSocket, cluster: true),
            ControlJson.ListenerRemoveRequest(result.GetValue(removeName)!), result.InvocationConfiguration, cancellationToken));

        var json = new Option<bool>("--json") { Description = "Print it as JSON" };
        var show = new Command("show", "Show the cluster's desired state of listeners as this node holds it") { json };
        show.SetAction((result, cancellationToken) =>
            ShowAsync<ClusterListeners.DesiredState>(ClientFor(result, controlSocket), ControlJson.ListenerShowRequest(), ControlJson.ResultField,
                result.GetValue(json), state => ClusterStatusReport.FormatDesired(state.Listeners), result.InvocationConfiguration, cancellationToken));

        return new Command("listener", "The cluster's desired state of listeners (shards per node and per role, roles, handler generation, definition)")
        {
            set,
            remove,
            show,
        };
    }

    /// <summary>
    /// Parses and runs <paramref name="args"/>: no arguments means <c>run</c>, and a malformed command line exits
    /// with <see cref="ExitCodes.Usage"/> (System.CommandLine alone would exit with 1, which here means "refused").
    /// </summary>
    public static async Task<int> InvokeAsync(string[] args, Func<ParseResult, CancellationToken, Task<int>> run, CancellationToken cancellationToken = default)
    {
        var result = Build(run).Parse(args.Length == 0 ? ["run"] : args);
        if (result.Action is ParseErrorAction)
        {
            var error = result.InvocationConfiguration.Error;
            foreach (var parseError in result.Errors)
                await error.WriteLineAsync(parseError.Message).ConfigureAwait(false);
            await error.WriteLineAsync("Run 'shardruntime --help' for usage.").ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        // No termination handling by System.CommandLine: by default it ends the process 2 s after SIGTERM, which would
        // cut a node's drain (shutdown.drain-timeout) short. The node's generic host handles SIGTERM and Ctrl+C itself.
        var invocation = new InvocationConfiguration { ProcessTerminationTimeout = null };
        return await result.InvokeAsync(invocation, cancellationToken).ConfigureAwait(false);
    }

    private static int ParseShardCount(ArgumentResult result)
    {
        var token = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
        if (!int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var shards))
        {
            result.AddError($"<n> must be a whole number of shards, 1 to {ListenerSettings.MaxShards}, got '{token}'");
            return 0;
        }
        return shards;
    }

    private static ControlClient ClientFor(ParseResult result, Option<string?> controlSocket, bool upgrade = false, bool cluster = false, bool rollingReload = false)
    {
        var path = result.GetValue(controlSocket);
        var reference = ShardRuntimeSettings.Create(Akka.Configuration.Config.Empty).Control;
        var timeout = upgrade ? reference.UpgradeAnswerTimeout
            : rollingReload ? reference.ReloadAnswerTimeout
            : cluster ? reference.ClusterChangeAnswerTimeout
            : reference.RequestTimeout;
        return new ControlClient(string.IsNullOrEmpty(path) ? reference.SocketPath : path, timeout + ReplyMargin);
    }

    /// <summary>
    /// Sends a request whose reply carries <paramref name="member"/>, and prints it: as the JSON the node sent, or as
    /// <paramref name="format"/> makes it of <typeparamref name="T"/>.
    /// </summary>
    private static Task<int> ShowAsync<T>(
        ControlClient client, string request, string member, bool json, Func<T, string> format, InvocationConfiguration console, CancellationToken cancellationToken) =>
        SendAsync(client, request, console, cancellationToken, async reply =>
        {
            var payload = reply.Root.GetProperty(member);
            if (json)
            {
                await console.Output.WriteLineAsync(payload.GetRawText()).ConfigureAwait(false);
                return;
            }
            var value = payload.Deserialize<T>(ControlJson.Options) ?? throw new InvalidDataException($"the node's {member} is null");
            await console.Output.WriteAsync(format(value)).ConfigureAwait(false);
        });

    /// <summary>A change of the cluster's desired state: prints the listener as stored, and by how many nodes.</summary>
    private static async Task<int> ChangeAsync(ControlClient client, string request, InvocationConfiguration console, CancellationToken cancellationToken)
    {
        return await SendAsync(client, request, console, cancellationToken, async reply =>
        {
            var changed = reply.Root.GetProperty(ControlJson.ResultField).Deserialize<ClusterListeners.ListenerChanged>(ControlJson.Options)
                ?? throw new InvalidDataException("the node's result is null");
            await console.Output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{changed.Listener.Name}: {changed.Listener.Describe()} (stored by {changed.StoredBy} of {changed.Nodes} node(s); `status --cluster` shows whether each node follows)")).ConfigureAwait(false);
        }).ConfigureAwait(false);
    }

    private static Task<int> RollingReloadAsync(ControlClient client, string? listener, InvocationConfiguration console, CancellationToken cancellationToken)
    {
        // Printed whether the reload completed or stopped: what happened on each node.
        async Task Print(ControlReply reply)
        {
            if (!reply.Root.TryGetProperty(ControlJson.ResultField, out var result)) return;
            var report = result.Deserialize<ClusterListeners.RollingReloadReport>(ControlJson.Options)
                ?? throw new InvalidDataException("the node's result is null");
            foreach (var node in report.Nodes)
            {
                var generations = node.Generations.Count == 0 ? "" : " " + string.Join(", ", node.Generations.Select(g => $"{g.Listener} generation {g.Generation}"));
                var took = node.Seconds is { } seconds ? string.Create(CultureInfo.InvariantCulture, $" in {seconds:0.0}s") : "";
                await console.Output.WriteLineAsync($"{node.Address}: {node.Outcome}{generations}{took}{(node.Reason is null ? "" : $": {node.Reason}")}").ConfigureAwait(false);
            }
        }
        return SendAsync(client, ControlJson.ReloadRequest(listener, cluster: true), console, cancellationToken, Print, onRefused: Print);
    }

    private static async Task<int> ScaleAsync(ControlClient client, string listener, int shards, InvocationConfiguration console, CancellationToken cancellationToken)
    {
        return await SendAsync(client, ControlJson.ScaleRequest(listener, shards), console, cancellationToken, async reply =>
        {
            var scaled = reply.Root.GetProperty(ControlJson.ResultField).Deserialize<Coordinator.ScaledTo>(ControlJson.Options)
                ?? throw new InvalidDataException("the node's result is null");
            await console.Output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{scaled.Listener}: {scaled.Shards} shard(s) accepting, {scaled.Retiring} retiring")).ConfigureAwait(false);
        }).ConfigureAwait(false);
    }

    private static async Task<int> ReloadAsync(ControlClient client, string? listener, bool allowEmpty, InvocationConfiguration console, CancellationToken cancellationToken)
    {
        return await SendAsync(client, ControlJson.ReloadRequest(listener, allowEmpty: allowEmpty), console, cancellationToken, async reply =>
        {
            var reloaded = reply.Root.GetProperty(ControlJson.ResultField).Deserialize<Coordinator.Reloaded>(ControlJson.Options)
                ?? throw new InvalidDataException("the node's result is null");
            // Every change the reload made (listeners added, removed, changed), then each listener's generation.
            foreach (var change in reloaded.Changes ?? [])
                await console.Output.WriteLineAsync(change).ConfigureAwait(false);
            foreach (var l in reloaded.Listeners)
                await console.Output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{l.Listener}: generation {l.Generation}")).ConfigureAwait(false);
        }).ConfigureAwait(false);
    }

    private static async Task<int> UpgradeAsync(ControlClient client, InvocationConfiguration console, CancellationToken cancellationToken)
    {
        return await SendAsync(client, ControlJson.UpgradeRequest(), console, cancellationToken, async reply =>
        {
            var upgraded = reply.Root.GetProperty(ControlJson.ResultField).Deserialize<Coordinator.Upgraded>(ControlJson.Options)
                ?? throw new InvalidDataException("the node's result is null");
            var declined = upgraded.Declined.Count == 0 ? "" : string.Create(CultureInfo.InvariantCulture, $", {upgraded.Declined.Count} declined (their listeners are gone)");
            // The successor takes the control socket's path right after the old process released the sockets: wait for
            // that, so that the next command reaches the successor.
            if (!await WaitForProcessAsync(client, upgraded.SuccessorProcessId, TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false))
            {
                await console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"warning: {client.SocketPath} does not reach the successor pid {upgraded.SuccessorProcessId} yet; see its log")).ConfigureAwait(false);
            }
            await console.Output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"upgraded: successor pid {upgraded.SuccessorProcessId} (process generation {upgraded.ProcessGeneration}) took {upgraded.Sockets} listening socket(s){declined}; the old process drains and exits"))
                .ConfigureAwait(false);
        }).ConfigureAwait(false);
    }

    /// <summary>Polls <c>status</c> on <paramref name="client"/>'s socket until the node there is <paramref name="processId"/>; false after <paramref name="timeout"/>.</summary>
    private static async Task<bool> WaitForProcessAsync(ControlClient client, int processId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            try
            {
                var reply = await client.SendAsync(ControlJson.StatusRequest(), cancellationToken).ConfigureAwait(false);
                if (reply.Ok && reply.Root.GetProperty(ControlJson.StatusField).GetProperty("processId").GetInt32() == processId)
                    return true;
            }
            catch (Exception e) when (e is NodeUnreachableException or JsonException or KeyNotFoundException or InvalidOperationException)
            {
                // Between the two sockets: try again.
            }
            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
        return false;
    }

    /// <summary>
    /// Sends one request and maps every outcome to an exit code; <paramref name="onSuccess"/> prints an ok reply,
    /// <paramref name="onRefused"/> what a refusal carries besides its error (a stopped rolling reload's report).
    /// </summary>
    private static async Task<int> SendAsync(
        ControlClient client, string request, InvocationConfiguration console, CancellationToken cancellationToken, Func<ControlReply, Task> onSuccess,
        Func<ControlReply, Task>? onRefused = null)
    {
        try
        {
            var reply = await client.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (!reply.Ok)
            {
                if (onRefused is not null) await onRefused(reply).ConfigureAwait(false);
                await console.Error.WriteLineAsync($"error: {reply.Error ?? "the node refused the command without a reason"}").ConfigureAwait(false);
                return reply.InvalidConfiguration ? ExitCodes.ConfigInvalid : ExitCodes.Refused;
            }
            await onSuccess(reply).ConfigureAwait(false);
            return ExitCodes.Success;
        }
        catch (NodeUnreachableException e)
        {
            await console.Error.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
            return ExitCodes.Unreachable;
        }
        catch (Exception e) when (e is InvalidDataException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            await console.Error.WriteLineAsync($"error: unreadable reply from the node at {client.SocketPath}: {e.Message}").ConfigureAwait(false);
            return ExitCodes.Refused;
        }
    }
}
