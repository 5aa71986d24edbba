using Akka.Actor;
using Serilog;
using ShardRuntime.Runtime.Upgrade;
using CoordinatorProtocol = ShardRuntime.Actors.Coordinator.Coordinator;

namespace ShardRuntime.Host.Node;

/// <summary>
/// A successor's upgrade completes once its predecessor closed its copies of the listening sockets: until then they
/// stay in their reuseport groups whatever this process closes, so it neither steers nor retires any. A predecessor
/// with a stability period keeps them (not accepting) while it watches this process, and closes the upgrade
/// connection once it let go; one without lets go at once.
/// </summary>
internal static class UpgradeCompletion
{
    /// <summary>Tells <paramref name="coordinator"/> <see cref="CoordinatorProtocol.TakeoverCompleted"/> once the predecessor let go (in the background), then closes <paramref name="upgrade"/>.</summary>
    public static void CompleteOnceLetGo(UpgradeClient upgrade, ReadyAnswer release, IActorRef coordinator, TimeSpan margin)
    {
        if (release != ReadyAnswer.Released || upgrade.PredecessorHold <= TimeSpan.Zero)
        {
            upgrade.Dispose();
            coordinator.Tell(CoordinatorProtocol.TakeoverCompleted.Instance);
            return;
        }
        Log.Information("The predecessor keeps its copies of the listening sockets for up to {Hold} while it watches this node; adopted sockets retire once it let go",
            upgrade.PredecessorHold);
        _ = Task.Run(async () =>
        {
            try
            {
                if (!await upgrade.WaitForLetGoAsync(margin).ConfigureAwait(false))
                    Log.Warning("The predecessor did not let go of the listening sockets within {Hold} and {Margin}; completing the upgrade anyway",
                        upgrade.PredecessorHold, margin);
            }
            catch (Exception e) when (e is UpgradeException or ObjectDisposedException or InvalidOperationException)
            {
                // The connection is gone, and the predecessor's copies with it.
            }
            upgrade.Dispose();
            Log.Information("The predecessor let go of the listening sockets: this node steers and retires them from now on");
            coordinator.Tell(CoordinatorProtocol.TakeoverCompleted.Instance);
        });
    }
}
