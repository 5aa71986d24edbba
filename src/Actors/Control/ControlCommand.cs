namespace ShardRuntime.Actors.Control;

using Coordinator = ShardRuntime.Actors.Coordinator.Coordinator;

/// <summary>
/// One command of the control socket: how its request turns into a coordinator command, and how the coordinator's
/// answer turns into the reply. A new command (reload, upgrade) is one more subclass listed in <see cref="All"/>.
/// <see cref="Coordinator.CommandFailed"/> and timeouts are answered by the connection, not by each command.
/// </summary>
internal abstract class ControlCommand
{
    /// <summary>The value of the request's <c>command</c> member.</summary>
    public abstract string Name { get; }

    /// <summary>Reads the request's members; throws <see cref="ControlRequestException"/> naming a bad one.</summary>
    public abstract Coordinator.ICommand Read(ControlRequest request);

    /// <summary>The reply line for the coordinator's answer, or null when the answer is not one this command expects.</summary>
    public abstract string? Reply(object answer);

    /// <summary>How long the coordinator's answer may take.</summary>
    public virtual TimeSpan AnswerTimeout(Settings.ControlSettings settings) => settings.RequestTimeout;

    /// <summary>Every command the control socket understands, by name.</summary>
    public static IReadOnlyDictionary<string, ControlCommand> All { get; } =
        new ControlCommand[] { new StatusCommand(), new ScaleCommand(), new ReloadCommand(), new UpgradeCommand() }.ToDictionary(c => c.Name, StringComparer.Ordinal);

    /// <summary>The command a request names; throws <see cref="ControlRequestException"/> for an unknown one.</summary>
    public static ControlCommand Of(ControlRequest request) =>
        All.TryGetValue(request.Command, out var command)
            ? command
            : throw new ControlRequestException(
                $"unknown command '{request.Command}' (known: {string.Join(", ", All.Keys.Order(StringComparer.Ordinal))})");

    /// <summary><c>{"command":"status"}</c>: <c>{"ok":true,"status":{...NodeStatus...}}</c>.</summary>
    private sealed class StatusCommand : ControlCommand
    {
        public override string Name => "status";

        public override Coordinator.ICommand Read(ControlRequest request) => Coordinator.GetStatus.Instance;

        public override string? Reply(object answer) =>
            answer is Coordinator.NodeStatus status ? ControlJson.Success(ControlJson.StatusField, status) : null;
    }

    /// <summary><c>{"command":"scale","listener":"http","shards":4}</c>: <c>{"ok":true,"result":{...ScaledTo...}}</c>.</summary>
    private sealed class ScaleCommand : ControlCommand
    {
        public override string Name => "scale";

        public override Coordinator.ICommand Read(ControlRequest request) =>
            new Coordinator.ScaleTo(request.GetString("listener"), request.GetInt32("shards", min: 0));

        public override string? Reply(object answer) =>
            answer is Coordinator.ScaledTo scaled ? ControlJson.Success(ControlJson.ResultField, scaled) : null;
    }

    private sealed class ReloadCommand : ControlCommand
    {
        public override string Name => "reload";

        public override Coordinator.ICommand Read(ControlRequest request) =>
            new Coordinator.Reload(request.Has("listener") ? request.GetString("listener") : null);

        public override string? Reply(object answer) =>
            answer is Coordinator.Reloaded reloaded ? ControlJson.Success(ControlJson.ResultField, reloaded) : null;
    }

    /// <summary><c>{"command":"upgrade"}</c>: <c>{"ok":true,"result":{...Upgraded...}}</c> once the successor took over.</summary>
    private sealed class UpgradeCommand : ControlCommand
    {
        public override string Name => "upgrade";

        public override Coordinator.ICommand Read(ControlRequest request) => Coordinator.Upgrade.Instance;

        public override string? Reply(object answer) =>
            answer is Coordinator.Upgraded upgraded ? ControlJson.Success(ControlJson.ResultField, upgraded) : null;

        public override TimeSpan AnswerTimeout(Settings.ControlSettings settings) => settings.UpgradeAnswerTimeout;
    }
}
