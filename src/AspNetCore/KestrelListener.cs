using System.Net;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;

namespace ShardRuntime.AspNetCore;

/// <summary>
/// Kestrel's view of one ShardRuntime listener: the connections its shards accepted, queued for Kestrel's accept loop.
/// The queue needs no bound of its own: the listener's max-connections bounds what its shards accept. Unbinding
/// (Kestrel stops) aborts what Kestrel never took, and the bridge aborts what arrives after.
/// </summary>
internal sealed class KestrelListener : IConnectionListener
{
    private readonly Channel<KestrelConnection> _queue =
        Channel.CreateUnbounded<KestrelConnection>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = false });
    private readonly Action<KestrelListener> _unbound;

    public KestrelListener(string listener, EndPoint endPoint, Action<KestrelListener> unbound)
    {
        Listener = listener;
        EndPoint = endPoint;
        _unbound = unbound;
    }

    /// <summary>The ShardRuntime listener whose connections this is.</summary>
    public string Listener { get; }

    /// <summary>The address the listener's shards are bound to (the port they got, where Kestrel asked for port 0).</summary>
    public EndPoint EndPoint { get; }

    /// <summary>Queues a connection for Kestrel; false once Kestrel unbound this listener.</summary>
    public bool TryQueue(KestrelConnection connection) => _queue.Writer.TryWrite(connection);

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (await _queue.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            if (_queue.Reader.TryRead(out var connection))
                return connection;
        return null; // unbound
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        if (_queue.Writer.TryComplete())
        {
            _unbound(this);
            while (_queue.Reader.TryRead(out var connection)) connection.Abort();
        }
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => UnbindAsync();
}
