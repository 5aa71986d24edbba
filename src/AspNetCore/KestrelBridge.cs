using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Akka.Actor;
using Akka.Event;
using Akka.Hosting;
using Microsoft.AspNetCore.Connections;
using ShardRuntime.Actors.Coordination;
using ShardRuntime.Runtime.Connections;

namespace ShardRuntime.AspNetCore;

/// <summary>
/// Between ShardRuntime and Kestrel. To ShardRuntime it is the async handler named <see cref="ShardRuntimeKestrel.HandlerName"/>:
/// each connection a shard accepts becomes a <see cref="KestrelConnection"/> queued on the Kestrel listener of its
/// ShardRuntime listener, and the handler waits until Kestrel is done with it. To Kestrel it is the transport
/// (<see cref="IConnectionListenerFactory"/>) for the endpoints of those listeners: binding one waits until the node
/// has bound the listener's shards and answers with the address they got.
/// </summary>
internal sealed class KestrelBridge : IStreamConnectionHandlerFactory, IStreamConnectionHandler,
    IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    private readonly IReadOnlyList<KestrelEndPoint> _endPoints;
    private readonly ConcurrentDictionary<string, KestrelListener> _listeners = new(StringComparer.Ordinal);
    private readonly Func<CancellationToken, Task<IActorRef>> _coordinator;
    private readonly TimeSpan _startTimeout;
    private long _refused;

    public KestrelBridge(IReadOnlyList<KestrelEndPoint> endPoints, Func<CancellationToken, Task<IActorRef>> coordinator, TimeSpan startTimeout)
    {
        _endPoints = endPoints;
        _coordinator = coordinator;
        _startTimeout = startTimeout;
    }

    /// <summary>Connections aborted because no Kestrel listener took them (Kestrel not bound yet, or unbound).</summary>
    public long Refused => Interlocked.Read(ref _refused);

    public string Name => ShardRuntimeKestrel.HandlerName;

    public IStreamConnectionHandler Create(IStreamConnection connection) => this;

    public async Task RunAsync(IStreamConnection connection)
    {
        if (!_listeners.TryGetValue(connection.ListenerName, out var listener))
        {
            Interlocked.Increment(ref _refused);
            connection.Abort();
            return;
        }
        var kestrel = new KestrelConnection(connection);
        if (!listener.TryQueue(kestrel))
        {
            Interlocked.Increment(ref _refused);
            connection.Abort();
            return;
        }
        await kestrel.Completion.ConfigureAwait(false);
    }

    public bool CanBind(EndPoint endpoint) => Match(endpoint) is not null;

    public async ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var match = Match(endpoint) ?? throw new InvalidOperationException(
            $"ShardRuntime serves no Kestrel listener at {endpoint}: the ShardRuntime listeners with handler " +
            $"'{ShardRuntimeKestrel.HandlerName}' are {string.Join(", ", _endPoints.Select(e => $"{e.Listener} ({e.EndPoint})"))}");
        var coordinator = await _coordinator(cancellationToken).ConfigureAwait(false);
        try
        {
            await coordinator.Ask<Coordinator.Started>(Coordinator.WaitUntilStarted.Instance, _startTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (CommandFailedException failed)
        {
            throw new InvalidOperationException($"ShardRuntime could not start listener '{match.Listener}': {failed.Message}", failed);
        }
        var status = await coordinator.Ask<Coordinator.NodeStatus>(Coordinator.GetStatus.Instance, _startTimeout, cancellationToken).ConfigureAwait(false);
        var bound = status.Listeners.FirstOrDefault(l => l.Name == match.Listener) ?? throw new InvalidOperationException(
            $"ShardRuntime listener '{match.Listener}' is not served by the node (its status lists {string.Join(", ", status.Listeners.Select(l => l.Name))})");
        var listener = new KestrelListener(match.Listener, ParseBound(bound.EndPoint), l => _listeners.TryRemove(new(l.Listener, l)));
        if (!_listeners.TryAdd(match.Listener, listener))
            throw new InvalidOperationException($"Kestrel bound ShardRuntime listener '{match.Listener}' twice");
        return listener;
    }

    /// <summary>The Kestrel endpoint's ShardRuntime listener: the one configured at that address, or, for port 0, the first such one not bound yet.</summary>
    private KestrelEndPoint? Match(EndPoint endpoint) => endpoint is IPEndPoint ip
        ? _endPoints.FirstOrDefault(e => e.EndPoint.Equals(ip) && (ip.Port != 0 || !_listeners.ContainsKey(e.Listener)))
        : null;

    /// <summary>The address in a listener's status (<c>127.0.0.1:8080/tcp</c>, <c>[::1]:8080/tcp</c>).</summary>
    internal static IPEndPoint ParseBound(string described)
    {
        var slash = described.LastIndexOf('/');
        var address = slash < 0 ? described : described[..slash];
        return IPEndPoint.TryParse(address, out var ep) ? ep
            : throw new FormatException($"ShardRuntime reported the listener's address as '{described}', which is not an IP endpoint");
    }
}

/// <summary>A ShardRuntime listener served by Kestrel, with the address it is configured at.</summary>
internal sealed record KestrelEndPoint(string Listener, IPEndPoint EndPoint);
