using System.Buffers;
using System.IO.Pipelines;
using System.Net;

namespace ShardRuntime.Runtime.Connections;

/// <summary>
/// The <see cref="IConnectionContext"/> a span handler sees when <see cref="SpanHandlerAdapter"/> serves it over an
/// <see cref="IStreamConnection"/>: writes go into the connection's output pipe (flushed by the adapter after each
/// callback), close and abort are recorded for the adapter to act on after the callback, features come from the stream
/// connection. Used by the adapter's callbacks only, one at a time.
/// </summary>
internal sealed class SpanHandlerContext : IConnectionContext
{
    private readonly IStreamConnection _connection;
    private readonly PipeWriter _output;

    public SpanHandlerContext(IStreamConnection connection, PipeWriter output)
    {
        _connection = connection;
        _output = output;
    }

    /// <summary>Bytes written since the last flush.</summary>
    public bool HasUnflushed;
    public bool CloseRequested;
    public bool AbortRequested;

    public long ConnectionId => _connection.ConnectionId;
    public string ListenerName => _connection.ListenerName;
    public int ShardId => _connection.ShardId;
    public int HandlerGeneration => _connection.HandlerGeneration;
    public bool IsDraining => _connection.Draining.IsCancellationRequested;
    public EndPoint? RemoteEndPoint => _connection.RemoteEndPoint;
    public EndPoint? LocalEndPoint => _connection.LocalEndPoint;
    public bool IsClosing => CloseRequested || AbortRequested || _connection.Aborted.IsCancellationRequested;

    public void Write(ReadOnlySpan<byte> data)
    {
        if (IsClosing || data.IsEmpty) return;
        _output.Write(data);
        HasUnflushed = true;
    }

    public void Close() => CloseRequested = true;

    /// <summary>As <see cref="Close"/>: over a stream the runtime's graceful close is the same for both.</summary>
    public void CloseWithoutLinger() => CloseRequested = true;

    public void Abort() => AbortRequested = true;

    public T? GetFeature<T>() where T : class => _connection.GetFeature<T>();
}
