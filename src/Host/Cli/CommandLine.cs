using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using System.Globalization;
using ShardRuntime.Actors.Cluster;
using ShardRuntime.Actors.ControlSocket;
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
        return new RootCommand("ShardRuntime: TCP servers on SO_REUSEPORT socket shards, scaled and upgraded without dropping a connection")
        {
            controlSocket,
            BuildRunCommand(run),
            BuildStatusCommand(controlSocket),
            BuildScaleCommand(controlSocket),
            BuildReloadCommand(controlSocket),
            BuildUpgradeCommand(controlSocket),
            BuildListenerCommand(controlSocket),
            BuildCheckCommand(),
        };
    }

    /// <summary><c>run</c>: starts a node; <paramref name="run"/> does it.</summary>
    private static Command BuildRunCommand(Func<ParseResult, CancellationToken, Task<int>> run)
    {
        var runCommand = new Command("run", "Run a node: serve the configured listeners until SIGTERM or Ctrl+C (the default command)")
        {
            ConfigOption,
            LogFormatOption,
            UpgradeFromOption,
        };
        runCommand.SetAction(run);
        return runCommand;
    }

    /// <summary><c>status [--json] [--cluster]</c>: the node's listeners and shards, or the cluster's.</summary>
    private static Command BuildStatusCommand(Option<string?> controlSocket)
    {
        var json = new Option<bool>("--json") { Description = "Print the node's status as JSON instead of tables" };
        var statusCluster = new Option<bool>("--cluster") { Description = "Every node of the cluster (unreachable ones marked) and the desired state" };
        var status = new Command("status", "Show the running node's listeners and shards") { json, statusCluster };
        status.SetAction((result, cancellationToken) => result.GetValue(statusCluster)
            ? ControlRequests.ShowAsync<ClusterListeners.ClusterStatus>(ClientFor(result, controlSocket), ControlJson.StatusRequest(cluster: true), ControlJson.ResultField,
                result.GetValue(json), ClusterStatusReport.Format, result.InvocationConfiguration, cancellationToken)
            : ControlRequests.ShowAsync<Coordinator.NodeStatus>(ClientFor(result, controlSocket), ControlJson.StatusRequest(), ControlJson.StatusField,
                result.GetValue(json), StatusReport.Format, result.InvocationConfiguration, cancellationToken));
        return status;
    }

    /// <summary><c>scale &lt;listener&gt; &lt;n&gt; [--cluster [--role r]]</c>: a listener's number of shards.</summary>
    private static Command BuildScaleCommand(Option<string?> controlSocket)
    {
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
            ? ControlRequests.ChangeAsync(ClientFor(result, controlSocket, cluster: true),
                ControlJson.ScaleRequest(result.GetValue(listener)!, result.GetValue(shards), cluster: true, role: result.GetValue(role)), result.InvocationConfiguration, cancellationToken)
            : ControlRequests.ScaleAsync(ClientFor(result, controlSocket), result.GetValue(listener)!, result.GetValue(shards), result.InvocationConfiguration, cancellationToken));
        return scale;
    }

    /// <summary><c>reload [listener] [--cluster] [--allow-empty]</c>: a new handler generation, or a rolling reload.</summary>
    private static Command BuildReloadCommand(Option<string?> controlSocket)
    {
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
            ? ControlRequests.RollingReloadAsync(ClientFor(result, controlSocket, rollingReload: true), result.GetValue(reloadListener), result.InvocationConfiguration, cancellationToken)
            : ControlRequests.ReloadAsync(ClientFor(result, controlSocket), result.GetValue(reloadListener), result.GetValue(reloadAllowEmpty), result.InvocationConfiguration, cancellationToken));
        return reload;
    }

    /// <summary><c>upgrade</c>: replaces the running node's process.</summary>
    private static Command BuildUpgradeCommand(Option<string?> controlSocket)
    {
        var upgrade = new Command("upgrade",
            "Replace the running node's process: start a successor (the same command line, so the binaries and config on disk now) " +
            "that adopts every listening socket; the old process then drains and exits. Rolls back if the successor fails");
        upgrade.SetAction((result, cancellationToken) =>
            ControlRequests.UpgradeAsync(ClientFor(result, controlSocket, upgrade: true), result.InvocationConfiguration, cancellationToken));
        return upgrade;
    }

    /// <summary><c>check --config &lt;file&gt;</c>: checks a configuration without starting a node.</summary>
    private static Command BuildCheckCommand()
    {
        var check = new Command("check",
            "Check a configuration without starting a node (as nginx -t): syntax, keys, values, handlers and their assemblies, " +
            "endpoints free or served by a node of this user; lists every problem and exits 2, or prints a summary and exits 0")
        {
            ConfigOption,
        };
        check.SetAction((result, _) => ConfigCheck.RunAsync(result.GetValue(ConfigOption), result.InvocationConfiguration));
        return check;
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
            return ControlRequests.ChangeAsync(ClientFor(result, controlSocket, cluster: true),
                ControlJson.ListenerSetRequest(result.GetValue(name)!, result.GetValue(definition), result.GetValue(shards), roleList, result.GetValue(raise)),
                result.InvocationConfiguration, cancellationToken);
        });

        var removeName = new Argument<string>("listener") { Description = "Name of the listener" };
        var remove = new Command("remove", "Remove a listener cluster-wide: every node retires it, whatever its file says, until it is set again") { removeName };
        remove.SetAction((result, cancellationToken) => ControlRequests.ChangeAsync(ClientFor(result, controlSocket, cluster: true),
            ControlJson.ListenerRemoveRequest(result.GetValue(removeName)!), result.InvocationConfiguration, cancellationToken));

        var json = new Option<bool>("--json") { Description = "Print it as JSON" };
        var show = new Command("show", "Show the cluster's desired state of listeners as this node holds it") { json };
        show.SetAction((result, cancellationToken) =>
            ControlRequests.ShowAsync<ClusterListeners.DesiredState>(ClientFor(result, controlSocket), ControlJson.ListenerShowRequest(), ControlJson.ResultField,
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
}
