using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using ShardRuntime.Actors.Coordination;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Actors.Upgrade;
using ShardRuntime.Runtime.Upgrade;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Hosting;

/// <summary>
/// Process upgrades of an app that hosts ShardRuntime itself (<see cref="ShardRuntimeOptions.EnableUpgrade"/>): the
/// app's own process is the successor. For <c>upgrade</c> the node starts the app again (its own executable and
/// arguments, or the command the app gave) with <see cref="UpgradeFromVariable"/> set to its upgrade socket; the new
/// process, seeing it, takes the listening sockets over through that socket before its coordinator starts (as
/// <c>shardruntime run --upgrade-from</c> does), says Ready once it accepts, and takes over the control and upgrade
/// socket paths once the old process let go; the old process drains and its actor system ends (so does the app, as
/// Akka.Hosting stops an app whose actor system ended). The same parts as the host's upgrade: the upgrade socket,
/// <see cref="Predecessor"/> and <see cref="Successor"/>.
/// </summary>
public static class EmbeddedUpgrade
{
    /// <summary>
    /// Set by a node for the successor process it starts: the node's upgrade socket, from which the successor takes the
    /// listening sockets over. Read (and cleared) as ShardRuntime starts in an app that called
    /// <see cref="ShardRuntimeOptions.EnableUpgrade"/>; ignored otherwise.
    /// </summary>
    public const string UpgradeFromVariable = "SHARDRUNTIME_UPGRADE_FROM";

    /// <summary>
    /// Set with <see cref="UpgradeFromVariable"/>: the predecessor's control socket, which the successor takes over
    /// where its configuration names none (the default path is one of the process's own, which the CLI would not know).
    /// </summary>
    public const string ControlSocketVariable = "SHARDRUNTIME_UPGRADE_CONTROL_SOCKET";

    /// <summary>
    /// This process started again: its own executable (<see cref="Environment.ProcessPath"/>) with the arguments it was
    /// started with (/proc/self/cmdline), in the current directory, with its environment and its stdout/stderr.
    /// </summary>
    public static ProcessStartInfo OwnCommand()
    {
        var words = OwnCommandLine.Read();
        var info = new ProcessStartInfo(words[0]) { UseShellExecute = false, WorkingDirectory = Environment.CurrentDirectory };
        foreach (var argument in words.Skip(1)) info.ArgumentList.Add(argument);
        return info;
    }

    /// <summary>Where this process, started as a successor, takes the sockets over from.</summary>
    internal sealed record PredecessorSockets(string UpgradeSocket, string? ControlSocket);

    /// <summary>The predecessor this process was started for, taken out of the environment (its children do not inherit it); null when none.</summary>
    internal static PredecessorSockets? TakePredecessor()
    {
        if (Environment.GetEnvironmentVariable(UpgradeFromVariable) is not { Length: > 0 } upgradeSocket) return null;
        var control = Environment.GetEnvironmentVariable(ControlSocketVariable);
        Environment.SetEnvironmentVariable(UpgradeFromVariable, null);
        Environment.SetEnvironmentVariable(ControlSocketVariable, null);
        return new PredecessorSockets(upgradeSocket, string.IsNullOrEmpty(control) ? null : control);
    }

    /// <summary>Starts <paramref name="command"/> as the successor of the node whose control socket is <paramref name="controlSocket"/>.</summary>
    internal static Func<string, Process> Starter(Func<ProcessStartInfo> command, string controlSocket) => upgradeSocket =>
    {
        var info = command();
        info.Environment[UpgradeFromVariable] = upgradeSocket;
        info.Environment[ControlSocketVariable] = controlSocket;
        return Process.Start(info) ?? throw new InvalidOperationException($"the successor process ({info.FileName}) did not start");
    };

    /// <summary>
    /// The upgrade options of this process: a successor receives its predecessor's sockets now (bounded by
    /// upgrade.step-timeout per step; a failure leaves them with the predecessor and fails the start, naming it);
    /// <paramref name="connection"/> is then the upgrade connection, which <see cref="CompleteAsSuccessor"/> hands on.
    /// </summary>
    internal static UpgradeOptions Options(
        ShardRuntimeSettings settings, Func<ProcessStartInfo> command, PredecessorSockets? predecessor, out UpgradeClient? connection)
    {
        var start = Starter(command, settings.Control.SocketPath);
        connection = null;
        if (predecessor is null) return new UpgradeOptions { StartSuccessor = start };
        var client = new UpgradeClient(settings.Upgrade.StepTimeout);
        try
        {
            var sockets = client.ReceiveAsync(predecessor.UpgradeSocket, CancellationToken.None).GetAwaiter().GetResult();
            connection = client;
            return UpgradeOptions.FromPredecessor(sockets, client.PredecessorGeneration, predecessor.UpgradeSocket, start);
        }
        catch (Exception e) when (e is UpgradeException or IOException or InvalidOperationException)
        {
            client.Dispose();
            throw new InvalidOperationException(
                $"this process was started as the successor of the node at {predecessor.UpgradeSocket} ({UpgradeFromVariable}), but could not take its sockets over; that node keeps serving them: {e.Message}", e);
        }
    }

    /// <summary>
    /// The successor's part once its coordinator started on the adopted sockets: the <see cref="Successor"/> actor says
    /// Ready, claims the socket paths and completes the upgrade. A start that fails (or a successor that fails before
    /// Ready) closes the connection, so the predecessor rolls back and serves on, and ends this actor system.
    /// </summary>
    internal static void CompleteAsSuccessor(ActorSystem system, ShardRuntimeSettings settings, UpgradeClient connection, IActorRef coordinator)
    {
        coordinator.Ask<CoordinatorProtocol.Started>(CoordinatorProtocol.WaitUntilStarted.Instance, settings.StartTimeout).ContinueWith(started =>
        {
            if (!started.IsCompletedSuccessfully)
            {
                connection.Dispose();
                GiveUp(system, $"the node did not start on the adopted sockets: {started.Exception?.GetBaseException().Message ?? "cancelled"}");
                return;
            }
            var successor = system.ActorOf(
                Successor.Props(settings.Upgrade, connection, coordinator, claimControlSocket: settings.Control.Enabled), Successor.ActorName);
            successor.Ask<object>(Successor.WaitUntilServing.Instance, settings.Upgrade.SuccessorAnswerTimeout).ContinueWith(answer =>
            {
                switch (answer.IsCompletedSuccessfully ? answer.Result : null)
                {
                    case Successor.Serving serving:
                        system.Log.Info("Upgrade complete: this process serves {0} adopted listening sockets", serving.Adopted);
                        break;
                    case Successor.Failed { Withdrawn: true }:
                        break; // the node drains, leaving the sockets to the predecessor, and its actor system ends
                    case Successor.Failed failed:
                        GiveUp(system, failed.Reason);
                        break;
                    default:
                        GiveUp(system, $"the successor actor did not answer: {answer.Exception?.GetBaseException().Message ?? "cancelled"}");
                        break;
                }
            }, TaskScheduler.Default);
        }, TaskScheduler.Default);
    }

    private static void GiveUp(ActorSystem system, string reason)
    {
        system.Log.Error("Upgrade failed, the running node keeps its sockets: {0}", reason);
        CoordinatedShutdown.Get(system).Run(SuccessorFailedReason.Instance);
    }

    /// <summary>Why a successor's actor system ends: the upgrade failed and the predecessor serves on.</summary>
    private sealed class SuccessorFailedReason : CoordinatedShutdown.Reason
    {
        public static readonly SuccessorFailedReason Instance = new();
        private SuccessorFailedReason() { }

        public override int ExitCode => 1;
    }
}
