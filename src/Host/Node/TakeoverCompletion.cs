using Akka.Actor;
using Serilog;
using ShardRuntime.Runtime.Handover;
using CoordinatorProtocol = ShardRuntime.Actors.Coordinator.Coordinator;

namespace ShardRuntime.Host.Node;

/// <summary>
/// A successor's take-over completes once its predecessor closed its copies of the listening sockets: until then they
/// stay in their reuseport groups whatever this process closes, so it neither steers nor retires any. A predecessor
/// with a stability period keeps them (not accepting) while it watches this process, and closes the handoff
/// connection once it let go; one without lets go at once.
/// </summary>
internal static class TakeoverCompletion
{
    /// <summary>Tells <paramref name="coordinator"/> <see cref="CoordinatorProtocol.TakeoverCompleted"/> once the predecessor let go (in the background), then closes <paramref name="handover"/>.</summary>
    public static void CompleteOnceLetGo(HandoverClient handover, HandoverRelease release, IActorRef coordinator, TimeSpan margin)
    {
        if (release != HandoverRelease.Released || handover.PredecessorHold <= TimeSpan.Zero)
        {
            handover.Dispose();
            coordinator.Tell(CoordinatorProtocol.TakeoverCompleted.Instance);
            return;
        }
        Log.Information("The predecessor keeps its copies of the listening sockets for up to {Hold} while it watches this node; adopted sockets retire once it let go",
            handover.PredecessorHold);
        _ = Task.Run(async () =>
        {
            try
            {
                if (!await handover.WaitForLetGoAsync(margin).ConfigureAwait(false))
                    Log.Warning("The predecessor did not let go of the listening sockets within {Hold} and {Margin}; completing the take-over anyway",
                        handover.PredecessorHold, margin);
            }
            catch (Exception e) when (e is HandoverException or ObjectDisposedException or InvalidOperationException)
            {
                // The connection is gone, and the predecessor's copies with it.
            }
            handover.Dispose();
            Log.Information("The predecessor let go of the listening sockets: this node steers and retires them from now on");
            coordinator.Tell(CoordinatorProtocol.TakeoverCompleted.Instance);
        });
    }
}
