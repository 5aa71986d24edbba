using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using ShardRuntime.Runtime.Connections;

namespace ShardRuntime.AspNetCore;

/// <summary>
/// One ShardRuntime connection as Kestrel sees it: a <see cref="ConnectionContext"/> over the connection's duplex pipe
/// (<see cref="IStreamConnection.Transport"/>). The node's wish to end the connection (a reload, an upgrade's hand-over,
/// a drain: <see cref="IStreamConnection.Draining"/>) reaches Kestrel as a
/// <see cref="IConnectionLifetimeNotificationFeature.RequestClose"/>, as Kestrel's own shutdown does: it finishes the
/// request in flight and closes the keep-alive connection after it. Kestrel's end of the connection
/// (<see cref="DisposeAsync"/>) ends the ShardRuntime handler that waits in <see cref="Completion"/>.
/// </summary>
internal sealed class KestrelConnection : ConnectionContext,
    IConnectionIdFeature, IConnectionTransportFeature, IConnectionItemsFeature, IConnectionEndPointFeature,
    IConnectionLifetimeFeature, IConnectionLifetimeNotificationFeature
{
    /// <summary>How long a drain waits for Kestrel to take the connection (and put its own lifetime feature in) before it gives up on telling it.</summary>
    private static readonly TimeSpan KestrelTakeOver = TimeSpan.FromSeconds(5);

    private readonly IStreamConnection _connection;
    private readonly ConnectionContext? _socket;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private IDictionary<object, object?>? _items;
    private int _aborted;

    /// <summary>
    /// Kestrel's view of <paramref name="connection"/>: over <paramref name="socket"/> when the connection's socket was
    /// handed to Kestrel's own socket transport (<see cref="ISocketHandOffFeature"/>: Kestrel does the I/O as it does
    /// for its own sockets), else over the connection's duplex pipe.
    /// </summary>
    public KestrelConnection(IStreamConnection connection, ConnectionContext? socket = null)
    {
        _connection = connection;
        _socket = socket;
        ConnectionId = connection.ConnectionId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Transport = socket?.Transport ?? connection.Transport;
        LocalEndPoint = socket?.LocalEndPoint ?? connection.LocalEndPoint;
        RemoteEndPoint = socket?.RemoteEndPoint ?? connection.RemoteEndPoint;
        ConnectionClosed = socket?.ConnectionClosed ?? connection.Aborted;
        ConnectionClosedRequested = connection.Draining;
        if (socket is not null)
        {
            Features = socket.Features; // Kestrel's socket connection: memory pool, lifetime, end points, ...
        }
        else
        {
            var features = new FeatureCollection();
            features.Set<IConnectionIdFeature>(this);
            features.Set<IConnectionTransportFeature>(this);
            features.Set<IConnectionItemsFeature>(this);
            features.Set<IConnectionEndPointFeature>(this);
            features.Set<IConnectionLifetimeFeature>(this);
            features.Set<IConnectionLifetimeNotificationFeature>(this);
            Features = features;
        }
        Features.Set(this); // for DrainingMiddleware (Kestrel's request features fall back to the connection's)
        connection.Draining.Register(static state => _ = ((KestrelConnection)state!).RequestKestrelCloseAsync(), this);
    }

    /// <summary>
    /// Kestrel puts its own <see cref="IConnectionLifetimeNotificationFeature"/> over this one when it takes the connection;
    /// its RequestClose is what ends a connection gracefully: HTTP/2 sends GOAWAY, HTTP/1.1 answers the request in flight
    /// with <c>Connection: close</c> and closes after it. An idle HTTP/1.1 connection is left alone for
    /// <see cref="IdleGrace"/>: a busy client's next request gets <c>Connection: close</c> from
    /// <see cref="DrainingMiddleware"/> (so it never races a close), and only one that stays idle is closed under it (as
    /// nginx and Kestrel close idle keep-alive connections when they stop). A drain that comes before Kestrel took the
    /// connection (still queued for its accept loop) waits, bounded, until Kestrel's feature is there.
    /// </summary>
    private async Task RequestKestrelCloseAsync()
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (!_completion.Task.IsCompleted)
        {
            if (Features.Get<IConnectionLifetimeNotificationFeature>() is { } kestrel && !ReferenceEquals(kestrel, this))
            {
                if (Volatile.Read(ref _multiplexed) || Volatile.Read(ref _requestsInFlight) > 0 || IdleFor >= IdleGrace)
                {
                    kestrel.RequestClose();
                    return;
                }
            }
            else if (waited.Elapsed > KestrelTakeOver) return; // never taken: the drain deadline ends it
            await Task.Delay(DrainPoll).ConfigureAwait(false);
        }
    }

    /// <summary>How long an idle HTTP/1.1 connection of a draining node may stay open for its client's next request.</summary>
    internal static readonly TimeSpan IdleGrace = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan DrainPoll = TimeSpan.FromMilliseconds(50);

    private int _requestsInFlight;
    private bool _multiplexed;
    private long _lastRequestEnded = Environment.TickCount64;

    private TimeSpan IdleFor => TimeSpan.FromMilliseconds(Environment.TickCount64 - Volatile.Read(ref _lastRequestEnded));

    /// <summary>The node wants this connection to end (<see cref="IStreamConnection.Draining"/>).</summary>
    public bool IsDraining => _connection.Draining.IsCancellationRequested;

    /// <summary>A request on this connection began (<see cref="DrainingMiddleware"/>); <paramref name="multiplexed"/>: HTTP/2 or later.</summary>
    public void RequestStarted(bool multiplexed)
    {
        if (multiplexed) Volatile.Write(ref _multiplexed, true);
        Interlocked.Increment(ref _requestsInFlight);
    }

    /// <summary>A request on this connection ended.</summary>
    public void RequestEnded()
    {
        Volatile.Write(ref _lastRequestEnded, Environment.TickCount64);
        Interlocked.Decrement(ref _requestsInFlight);
    }

    /// <summary>Completes when Kestrel is done with the connection (it disposed it) or the connection was aborted.</summary>
    public Task Completion => _completion.Task;

    public override string ConnectionId { get; set; }
    public override IFeatureCollection Features { get; }
    public override IDictionary<object, object?> Items
    {
        get => _socket?.Items ?? (_items ??= new ConnectionItems());
        set
        {
            if (_socket is not null) _socket.Items = value;
            else _items = value;
        }
    }
    public override IDuplexPipe Transport { get; set; }
    public override EndPoint? LocalEndPoint { get; set; }
    public override EndPoint? RemoteEndPoint { get; set; }
    public override CancellationToken ConnectionClosed { get; set; }
    public CancellationToken ConnectionClosedRequested { get; set; }

    /// <summary>Until Kestrel takes the connection and puts its own feature in, there is nobody to tell.</summary>
    public void RequestClose() { }

    public override void Abort(ConnectionAbortedException abortReason)
    {
        if (Interlocked.Exchange(ref _aborted, 1) != 0) return;
        if (_socket is not null) _socket.Abort(abortReason);
        else _connection.Abort();
        _completion.TrySetResult();
    }

    public override void Abort() => Abort(new ConnectionAbortedException("The connection was aborted by the application."));

    public override async ValueTask DisposeAsync()
    {
        try
        {
            if (_socket is not null) await _socket.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _completion.TrySetResult();
        }
    }

    /// <summary>A small dictionary for <see cref="Items"/> (Kestrel's own is internal).</summary>
    private sealed class ConnectionItems : Dictionary<object, object?>;
}
