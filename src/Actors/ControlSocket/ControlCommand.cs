using ShardRuntime.Actors.Cluster;

namespace ShardRuntime.Actors.ControlSocket;

using Coordinator = ShardRuntime.Actors.Coordination.Coordinator;

/// <summary>
/// One command of the control socket: how its request turns into a command of the coordinator
/// (<see cref="Coordinator.ICommand"/>) or of the cluster actor (<see cref="ClusterListeners.ICommand"/>, for requests
/// with <c>"cluster":true</c> and the <c>listener-*</c> commands), and how the answer turns into the reply. A new
/// command is one more subclass listed in <see cref="All"/>. Refusals
/// (<see cref="Coordination.CommandFailedException"/>) and timeouts are answered by the connection, not by each command.
/// </summary>
internal abstract class ControlCommand
{
    /// <summary>The value of the request's <c>command</c> member.</summary>
    public abstract string Name { get; }

    /// <summary>
    /// Reads the request's members into a <see cref="Coordinator.ICommand"/> or a <see cref="ClusterListeners.ICommand"/>;
    /// throws <see cref="ControlRequestException"/> naming a bad one.
    /// </summary>
    public abstract object Read(ControlRequest request);

    /// <summary>The reply line for the answer, or null when the answer is not one this command expects.</summary>
    public abstract string? Reply(object answer);

    /// <summary>How long the answer to <paramref name="command"/> (what <see cref="Read"/> made) may take.</summary>
    public virtual TimeSpan AnswerTimeout(Settings.ControlSettings settings, object command) =>
        command is ClusterListeners.ICommand and not ClusterListeners.GetClusterStatus and not ClusterListeners.GetDesiredState
            ? settings.ClusterChangeAnswerTimeout
            : settings.RequestTimeout;

    /// <summary>Every command the control socket understands, by name.</summary>
    public static IReadOnlyDictionary<string, ControlCommand> All { get; } =
        new ControlCommand[]
        {
            new StatusCommand(), new ScaleCommand(), new ReloadCommand(), new UpgradeCommand(),
            new ListenerSetCommand(), new ListenerRemoveCommand(), new ListenerShowCommand(),
        }.ToDictionary(c => c.Name, StringComparer.Ordinal);

    /// <summary>
    /// Reads one request line (UTF-8 JSON, without its newline) into the command it names and that command's message
    /// (<see cref="Read"/>); throws <see cref="ControlRequestException"/> naming what was wrong.
    /// </summary>
    public static (ControlCommand Command, object Message) Parse(ReadOnlyMemory<byte> line)
    {
        var request = ControlRequest.Parse(line);
        var command = Of(request);
        return (command, command.Read(request));
    }

    /// <summary>The command a request names; throws <see cref="ControlRequestException"/> for an unknown one.</summary>
    public static ControlCommand Of(ControlRequest request) =>
        All.TryGetValue(request.Command, out var command)
            ? command
            : throw new ControlRequestException(
                $"unknown command '{request.Command}' (known: {string.Join(", ", All.Keys.Order(StringComparer.Ordinal))})");

    /// <summary>
    /// <c>{"command":"status"}</c>: <c>{"ok":true,"status":{...NodeStatus...}}</c>; with <c>"cluster":true</c>:
    /// <c>{"ok":true,"result":{...ClusterStatus...}}</c>.
    /// </summary>
    private sealed class StatusCommand : ControlCommand
    {
        public override string Name => "status";

        public override object Read(ControlRequest request) =>
            request.GetFlag(ControlJson.ClusterField) ? ClusterListeners.GetClusterStatus.Instance : Coordinator.GetStatus.Instance;

        public override string? Reply(object answer) => answer switch
        {
            Coordinator.NodeStatus status => ControlJson.Success(ControlJson.StatusField, status),
            ClusterListeners.ClusterStatus cluster => ControlJson.Success(ControlJson.ResultField, cluster),
            _ => null,
        };
    }

    /// <summary>
    /// <c>{"command":"scale","listener":"http","shards":4}</c>: <c>{"ok":true,"result":{...ScaledTo...}}</c>; with
    /// <c>"cluster":true</c> (and an optional <c>"role"</c>): <c>{"ok":true,"result":{...ListenerChanged...}}</c>.
    /// </summary>
    private sealed class ScaleCommand : ControlCommand
    {
        public override string Name => "scale";

        public override object Read(ControlRequest request)
        {
            var listener = request.GetString("listener");
            var shards = request.GetInt32("shards", min: 0);
            if (request.GetFlag(ControlJson.ClusterField))
                return new ClusterListeners.ScaleListener(listener, shards, request.Has("role") ? request.GetString("role") : null);
            if (request.Has("role"))
                throw new ControlRequestException("field 'role' needs \"cluster\": true (roles are cluster members' roles)");
            return new Coordinator.ScaleTo(listener, shards);
        }

        public override string? Reply(object answer) => answer switch
        {
            Coordinator.ScaledTo scaled => ControlJson.Success(ControlJson.ResultField, scaled),
            ClusterListeners.ListenerChanged changed => ControlJson.Success(ControlJson.ResultField, changed),
            _ => null,
        };
    }

    /// <summary>
    /// <c>{"command":"reload","listener":"http","allow-empty":true}</c> (listener and allow-empty optional):
    /// <c>{"ok":true,"result":{...Reloaded...}}</c>;
    /// with <c>"cluster":true</c> a rolling reload: <c>{"ok":true,"result":{...RollingReloadReport...}}</c>, or on a
    /// failure <c>{"ok":false,"error":"...","result":{...}}</c>.
    /// </summary>
    private sealed class ReloadCommand : ControlCommand
    {
        public override string Name => "reload";

        public override object Read(ControlRequest request)
        {
            var listener = request.Has("listener") ? request.GetString("listener") : null;
            return request.GetFlag(ControlJson.ClusterField)
                ? new ClusterListeners.RollingReload(listener)
                : new Coordinator.Reload(listener, AllowEmpty: request.GetFlag(ControlJson.AllowEmptyField));
        }

        public override string? Reply(object answer) => answer switch
        {
            Coordinator.Reloaded reloaded => ControlJson.Success(ControlJson.ResultField, reloaded),
            ClusterListeners.RollingReloadReport { Completed: true } report => ControlJson.Success(ControlJson.ResultField, report),
            ClusterListeners.RollingReloadReport report => ControlJson.Failure(report.Failure ?? "the rolling reload stopped", ControlJson.ResultField, report),
            _ => null,
        };

        public override TimeSpan AnswerTimeout(Settings.ControlSettings settings, object command) =>
            command is ClusterListeners.RollingReload ? settings.ReloadAnswerTimeout : settings.RequestTimeout;
    }

    /// <summary>
    /// <c>{"command":"listener-set","listener":"api","definition":"endpoint = \"0.0.0.0:9000\"","shards":2,"roles":["edge"],"reload":false}</c>
    /// (all but the listener optional): sets them in the cluster's desired state. <c>{"ok":true,"result":{...ListenerChanged...}}</c>.
    /// </summary>
    private sealed class ListenerSetCommand : ControlCommand
    {
        public override string Name => "listener-set";

        public override object Read(ControlRequest request) => new ClusterListeners.SetListener(
            request.GetString("listener"),
            request.Has("definition") ? request.GetString("definition") : null,
            request.Has("shards") ? request.GetInt32("shards", min: 0) : null,
            request.Has("roles") ? request.GetStrings("roles") : null,
            request.GetFlag("reload"));

        public override string? Reply(object answer) =>
            answer is ClusterListeners.ListenerChanged changed ? ControlJson.Success(ControlJson.ResultField, changed) : null;
    }

    /// <summary><c>{"command":"listener-remove","listener":"api"}</c>: removes it cluster-wide. <c>{"ok":true,"result":{...ListenerChanged...}}</c>.</summary>
    private sealed class ListenerRemoveCommand : ControlCommand
    {
        public override string Name => "listener-remove";

        public override object Read(ControlRequest request) => new ClusterListeners.RemoveListener(request.GetString("listener"));

        public override string? Reply(object answer) =>
            answer is ClusterListeners.ListenerChanged changed ? ControlJson.Success(ControlJson.ResultField, changed) : null;
    }

    /// <summary><c>{"command":"listener-show"}</c>: the cluster's desired state as this node holds it. <c>{"ok":true,"result":{...DesiredState...}}</c>.</summary>
    private sealed class ListenerShowCommand : ControlCommand
    {
        public override string Name => "listener-show";

        public override object Read(ControlRequest request) => ClusterListeners.GetDesiredState.Instance;

        public override string? Reply(object answer) =>
            answer is ClusterListeners.DesiredState state ? ControlJson.Success(ControlJson.ResultField, state) : null;
    }

    /// <summary><c>{"command":"upgrade"}</c>: <c>{"ok":true,"result":{...Upgraded...}}</c> once the successor adopted the sockets.</summary>
    private sealed class UpgradeCommand : ControlCommand
    {
        public override string Name => "upgrade";

        public override object Read(ControlRequest request) => Coordinator.Upgrade.Instance;

        public override string? Reply(object answer) =>
            answer is Coordinator.Upgraded upgraded ? ControlJson.Success(ControlJson.ResultField, upgraded) : null;

        public override TimeSpan AnswerTimeout(Settings.ControlSettings settings, object command) => settings.UpgradeAnswerTimeout;
    }
}
