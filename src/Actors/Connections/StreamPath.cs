using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Connections;
using ShardRuntime.Runtime.Loading;

namespace ShardRuntime.Actors.Connections;

/// <summary>Which path serves a connection: a pure decision of its handler generation and its listener.</summary>
internal static class StreamPath
{
    /// <summary>
    /// True when the connection is served on the stream path (a task off the I/O loops): its generation is of the async
    /// style, its listener says <c>io = stream</c>, or the listener has a stream layer (TLS), which only that path serves.
    /// Otherwise the span handler runs on the I/O loop.
    /// </summary>
    public static bool Serves(HandlerGeneration generation, ListenerSettings listener, IConnectionStreamLayer? layer) =>
        generation.IsStream || listener.Io == ConnectionIo.Stream || layer is not null;
}
