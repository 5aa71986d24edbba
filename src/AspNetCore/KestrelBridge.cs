using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Akka.Actor;
using Akka.Event;
using Akka.Hosting;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
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
    IConnectionListenerFactory, IConnectionListenerFactorySelector, IDisposable
{
    private readonly IReadOnlyList<KestrelEndPoint> _endPoints;
    /// <summary>
    /// Per ShardRuntime listener, its Kestrel listener once Kestrel bound it (null after Kestrel unbound it). A node's
    /// shards accept before Kestrel binds (at start, and in an upgrade's new process, which serves the sockets as soon as
    /// it has them): those connections wait for the bind (<see cref="BindWait"/>) instead of being turned away.
    /// </summary>
    private readonly ConcurrentDictionary<string, TaskCompletionSource<KestrelListener?>> _listeners = new(StringComparer.Ordinal);
    private readonly Func<CancellationToken, Task<IActorRef>> _coordinator;
    private readonly TimeSpan _startTimeout;
    private long _refused;

    /// <summary>Kestrel's socket transport for handed-over sockets (its I/O queues and memory pool).</summary>
    private readonly SocketConnectionContextFactory _sockets;

    public KestrelBridge(IReadOnlyList<KestrelEndPoint> endPoints, Func<CancellationToken, Task<IActorRef>> coordinator, TimeSpan startTimeout,
        ILogger? logger = null)
    {
        _sockets = new SocketConnectionContextFactory(new SocketConnectionFactoryOptions(), logger ?? NullLogger.Instance);
        _endPoints = endPoints;
        _coordinator = coordinator;
        _startTimeout = startTimeout;
    }

    /// <summary>Connections aborted because no Kestrel listener took them (Kestrel did not bind within <see cref="BindWait"/>, or unbound).</summary>
    public long Refused => Interlocked.Read(ref _refused);

    public string Name => ShardRuntimeKestrel.HandlerName;

    public IStreamConnectionHandler Create(IStreamConnection connection) => this;

    /// <summary>How long a connection accepted before Kestrel bound its listener waits for Kestrel.</summary>
    internal static readonly TimeSpan BindWait = TimeSpan.FromSeconds(60);

    private TaskCompletionSource<KestrelListener?> Slot(string listener) =>
        _listeners.GetOrAdd(listener, static _ => new TaskCompletionSource<KestrelListener?>(TaskCreationOptions.RunContinuationsAsynchronously));

    public async Task RunAsync(IStreamConnection connection)
    {
        var bound = Slot(connection.ListenerName).Task;
        KestrelListener? listener;
        try
        {
            listener = bound.IsCompleted ? bound.Result : await bound.WaitAsync(BindWait, connection.Aborted).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            listener = null;
        }
        var kestrel = listener is null ? null : Connect(connection);
        if (kestrel is null || !listener!.TryQueue(kestrel))
        {
            Interlocked.Increment(ref _refused);
            connection.Abort();
            return;
        }
        await kestrel.Completion.ConfigureAwait(false);
    }

    /// <summary>
    /// Kestrel's view of a connection: its socket handed to Kestrel's own socket transport where the connection offers it
    /// (plain TCP), so that Kestrel reads and writes it exactly as its own; else the connection's duplex pipe.
    /// </summary>
    private KestrelConnection Connect(IStreamConnection connection) =>
        connection.GetFeature<ISocketHandOffFeature>() is { } handOff
            ? new KestrelConnection(connection, _sockets.Create(handOff.TakeSocket()))
            : new KestrelConnection(connection);

    public void Dispose() => _sockets.Dispose();

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
        var listener = new KestrelListener(match.Listener, ParseBound(bound.EndPoint), Unbound);
        var slot = Slot(match.Listener);
        if (slot.Task.IsCompleted) // bound before and unbound since: a new slot for the new binding
            _listeners[match.Listener] = slot = new TaskCompletionSource<KestrelListener?>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!slot.TrySetResult(listener))
            throw new InvalidOperationException($"Kestrel bound ShardRuntime listener '{match.Listener}' twice");
        return listener;
    }

    /// <summary>Kestrel unbound <paramref name="listener"/>: connections accepted from now on are turned away.</summary>
    private void Unbound(KestrelListener listener)
    {
        var closed = new TaskCompletionSource<KestrelListener?>();
        closed.SetResult(null);
        _listeners[listener.Listener] = closed;
    }

    /// <summary>The Kestrel endpoint's ShardRuntime listener: the one configured at that address, or, for port 0, the first such one not bound yet.</summary>
    private KestrelEndPoint? Match(EndPoint endpoint) => endpoint is IPEndPoint ip
        ? _endPoints.FirstOrDefault(e => e.EndPoint.Equals(ip) && (ip.Port != 0 || !IsBound(e.Listener)))
        : null;

    private bool IsBound(string listener) => _listeners.TryGetValue(listener, out var slot) && slot.Task is { IsCompletedSuccessfully: true, Result: not null };

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
