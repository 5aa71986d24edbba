using ShardRuntime.Runtime.Connections;
using ShardRuntime.Runtime.Datagrams;

namespace ShardRuntime.Runtime.Loading;

/// <summary>
/// One connection's hold on a handler generation, from <see cref="HandlerRegistry.Acquire"/>. Create the
/// connection's handler with it and dispose it when the connection ends; disposing releases the generation exactly
/// once, however often it is called, so a retired generation cannot unload under a connection still running on it.
/// </summary>
public sealed class HandlerLease : IDisposable
{
    private int _released;

    internal HandlerLease(HandlerGeneration generation) => Generation = generation;

    /// <summary>The generation this connection runs on.</summary>
    public HandlerGeneration Generation { get; }

    /// <summary>True once disposed.</summary>
    public bool IsReleased => Volatile.Read(ref _released) != 0;

    /// <summary>Creates the connection's handler from the leased generation's factory.</summary>
    /// <exception cref="ObjectDisposedException">The lease was released.</exception>
    public IConnectionHandler CreateHandler(IConnectionContext context)
    {
        ObjectDisposedException.ThrowIf(IsReleased, this);
        return Generation.Factory.Create(context);
    }

    /// <summary>Creates the connection's async (stream) handler from the leased generation's factory.</summary>
    /// <exception cref="ObjectDisposedException">The lease was released.</exception>
    /// <exception cref="InvalidOperationException">The generation serves another style.</exception>
    public IStreamConnectionHandler CreateStreamHandler(IStreamConnection connection)
    {
        ObjectDisposedException.ThrowIf(IsReleased, this);
        return Generation.StreamFactory.Create(connection);
    }

    /// <summary>Creates a shard socket's datagram handler from the leased generation's factory (hold the lease while it serves).</summary>
    /// <exception cref="ObjectDisposedException">The lease was released.</exception>
    /// <exception cref="InvalidOperationException">The generation serves connections.</exception>
    public IDatagramHandler CreateDatagramHandler(IDatagramContext context)
    {
        ObjectDisposedException.ThrowIf(IsReleased, this);
        return Generation.DatagramFactory.Create(context);
    }

    /// <summary>Releases the generation (once). May unload it, when it is retired and this was its last connection.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            Generation.Release();
        }
    }
}
