using ShardRuntime.Actors.Coordination;
using System.Diagnostics;
using Akka.Actor;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Cluster;

/// <summary>
/// This node's turn in a rolling reload (child <c>node-reload</c> of the cluster actor; states: ready, reloading):
/// reloads, then waits (bounded by <c>cluster.rolling-reload.step-timeout</c>) until no older generation of a reloaded
/// listener has an open connection, and answers the rolling reload that asked. A second turn while one runs is refused.
/// </summary>
internal sealed class NodeReloadActor : ReceiveActor
{
    private static readonly TimeSpan DrainPoll = TimeSpan.FromMilliseconds(100);

    public NodeReloadActor(IActorRef coordinator, TimeSpan stepTimeout)
    {
        Receive<ClusterListeners.ReloadNode>(reload =>
        {
            var replyTo = Sender;
            ReloadAsync(reload, coordinator, stepTimeout).PipeTo(Self,
                success: answer => new TurnDone(answer, replyTo), failure: e => new TurnDone(new Status.Failure(e), replyTo));
            BecomeStacked(Reloading);
        });
    }

    /// <summary>A turn is running: another is refused; its end is answered to the rolling reload that asked.</summary>
    private void Reloading()
    {
        Receive<ClusterListeners.ReloadNode>(_ => Sender.Tell(new ClusterListeners.NodeReloadFailed(
            "this node is in another rolling reload's turn (one started from another node)", [])));
        Receive<TurnDone>(done =>
        {
            done.ReplyTo.Tell(done.Answer);
            UnbecomeStacked();
        });
    }

    /// <summary>Reload, then wait for the old generations to drain; every failure is an answer.</summary>
    private static async Task<object> ReloadAsync(ClusterListeners.ReloadNode reload, IActorRef coordinator, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        object answer;
        try
        {
            if (reload.Listener is { } only)
            {
                var before = await coordinator.Ask<CoordinatorProtocol.NodeStatus>(CoordinatorProtocol.GetStatus.Instance, timeout).ConfigureAwait(false);
                if (before.Listeners.All(l => l.Name != only))
                    return new ClusterListeners.NodeReloaded([], clock.Elapsed.TotalSeconds, Served: false);
            }
            answer = await coordinator.Ask<object>(new CoordinatorProtocol.Reload(reload.Listener, reload.Generation), timeout).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
        {
            return new ClusterListeners.NodeReloadFailed($"the coordinator did not answer the reload within {timeout}", []);
        }
        catch (CommandFailedException refused)
        {
            return Refused(refused);
        }
        if (answer is not CoordinatorProtocol.Reloaded reloaded)
            return Refused(answer);
        while (true)
        {
            var left = timeout - clock.Elapsed;
            if (left <= TimeSpan.Zero)
                return new ClusterListeners.NodeReloadFailed($"the old handler generations still had open connections after {timeout}", reloaded.Listeners);
            CoordinatorProtocol.NodeStatus status;
            try
            {
                status = await coordinator.Ask<CoordinatorProtocol.NodeStatus>(CoordinatorProtocol.GetStatus.Instance, left).ConfigureAwait(false);
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
            {
                continue;
            }
            if (OldConnections(status, reloaded) == 0)
                return new ClusterListeners.NodeReloaded(reloaded.Listeners, clock.Elapsed.TotalSeconds);
            await Task.Delay(DrainPoll).ConfigureAwait(false);
        }
    }

    /// <summary>The answer to the rolling reload when the coordinator did not reload: its reason, or what it answered instead.</summary>
    internal static ClusterListeners.NodeReloadFailed Refused(object answer) => new(
        CommandFailedException.In(answer) is { } failed ? failed.Reason : $"unexpected answer {answer.GetType().Name}", []);

    /// <summary>Connections still open on older generations of the listeners <paramref name="reloaded"/> names: the turn ends when there are none.</summary>
    internal static int OldConnections(CoordinatorProtocol.NodeStatus status, CoordinatorProtocol.Reloaded reloaded)
    {
        var names = reloaded.Listeners.Select(l => l.Listener).ToHashSet(StringComparer.Ordinal);
        return status.Listeners.Where(l => names.Contains(l.Name)).Sum(l => l.Generations.Where(g => !g.Current).Sum(g => g.OpenConnections));
    }

    /// <summary>The turn's answer (piped to self), for <paramref name="ReplyTo"/>.</summary>
    private sealed record TurnDone(object Answer, IActorRef ReplyTo);
}
