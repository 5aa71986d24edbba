using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using ShardRuntime.Actors.Cluster;
using ShardRuntime.Actors.ControlSocket;

namespace ShardRuntime.Host.Cli;

using Coordinator = ShardRuntime.Actors.Coordination.Coordinator;

/// <summary>
/// What the commands that talk to a running node send over its control socket and print of the reply, and the exit
/// code (<see cref="ExitCodes"/>) each outcome maps to. <see cref="CommandLine"/> defines the commands.
/// </summary>
internal static class ControlRequests
{
    /// <summary>
    /// Sends a request whose reply carries <paramref name="member"/>, and prints it: as the JSON the node sent, or as
    /// <paramref name="format"/> makes it of <typeparamref name="T"/>.
    /// </summary>
    internal static Task<int> ShowAsync<T>(
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
    internal static async Task<int> ChangeAsync(ControlClient client, string request, InvocationConfiguration console, CancellationToken cancellationToken)
    {
        return await SendAsync(client, request, console, cancellationToken, async reply =>
        {
            var changed = reply.Root.GetProperty(ControlJson.ResultField).Deserialize<ClusterListeners.ListenerChanged>(ControlJson.Options)
                ?? throw new InvalidDataException("the node's result is null");
            await console.Output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{changed.Listener.Name}: {changed.Listener.Describe()} (stored by {changed.StoredBy} of {changed.Nodes} node(s); `status --cluster` shows whether each node follows)")).ConfigureAwait(false);
        }).ConfigureAwait(false);
    }

    internal static Task<int> RollingReloadAsync(ControlClient client, string? listener, InvocationConfiguration console, CancellationToken cancellationToken)
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

    internal static async Task<int> ScaleAsync(ControlClient client, string listener, int shards, InvocationConfiguration console, CancellationToken cancellationToken)
    {
        return await SendAsync(client, ControlJson.ScaleRequest(listener, shards), console, cancellationToken, async reply =>
        {
            var scaled = reply.Root.GetProperty(ControlJson.ResultField).Deserialize<Coordinator.ScaledTo>(ControlJson.Options)
                ?? throw new InvalidDataException("the node's result is null");
            await console.Output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{scaled.Listener}: {scaled.Shards} shard(s) accepting, {scaled.Retiring} retiring")).ConfigureAwait(false);
        }).ConfigureAwait(false);
    }

    internal static async Task<int> ReloadAsync(ControlClient client, string? listener, bool allowEmpty, InvocationConfiguration console, CancellationToken cancellationToken)
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

    internal static async Task<int> UpgradeAsync(ControlClient client, InvocationConfiguration console, CancellationToken cancellationToken)
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
    internal static async Task<bool> WaitForProcessAsync(ControlClient client, int processId, TimeSpan timeout, CancellationToken cancellationToken)
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
    internal static async Task<int> SendAsync(
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
