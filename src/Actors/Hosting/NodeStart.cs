using Akka.Actor;
using ShardRuntime.Actors.Coordination;
using ControlProtocol = ShardRuntime.Actors.ControlSocket.Control;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Hosting;

/// <summary>
/// Waiting for a node's start: its coordinator answers <see cref="CoordinatorProtocol.WaitUntilStarted"/> once every
/// start-up listener is bound and accepting (handler code and TLS files, loaded off its thread, included), or with the
/// reason it could not start. <c>WithShardRuntime</c> waits so within the host's <c>StartAsync</c>, and
/// ShardRuntime.TestKit's test node within its own start: one way for both.
/// </summary>
public static class NodeStart
{
    /// <summary>
    /// Returns once <paramref name="coordinator"/>'s start-up listeners serve; throws <see cref="ShardRuntimeStartException"/>
    /// with the coordinator's reason when they cannot, or when <paramref name="timeout"/> passes first (named as
    /// <paramref name="timeoutName"/>, for example the key that set it).
    /// </summary>
    public static async Task WaitAsync(IActorRef coordinator, TimeSpan timeout, string timeoutName, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(coordinator);
        try
        {
            await coordinator.Ask<CoordinatorProtocol.Started>(CoordinatorProtocol.WaitUntilStarted.Instance, timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (CommandFailedException failed)
        {
            throw new ShardRuntimeStartException(failed.Reason, failed);
        }
        catch (AskTimeoutException late)
        {
            throw new ShardRuntimeStartException(
                $"its listeners were not all bound and serving within {timeout} ({timeoutName})", late);
        }
    }

    /// <summary>
    /// Returns once <paramref name="control"/> serves its control socket; throws <see cref="ShardRuntimeStartException"/>
    /// naming the path and why when it cannot, or when <paramref name="timeout"/> passes first. Not for a control socket
    /// whose bind waits for an upgrade to complete (it binds only then).
    /// </summary>
    internal static async Task WaitForControlSocketAsync(IActorRef control, TimeSpan timeout, string timeoutName)
    {
        object bound;
        try
        {
            bound = await control.Ask<object>(ControlProtocol.WaitUntilBound.Instance, timeout).ConfigureAwait(false);
        }
        catch (AskTimeoutException late)
        {
            throw new ShardRuntimeStartException($"the control socket was not bound within {timeout} ({timeoutName})", late);
        }
        if (bound is ControlProtocol.BindFailed failed)
            throw new ShardRuntimeStartException($"control socket {failed.SocketPath}: {failed.Reason}");
    }
}
