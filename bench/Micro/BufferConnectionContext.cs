using System.Net;
using ShardRuntime.Runtime.Connections;

namespace ShardRuntime.Micro;

/// <summary>
/// The least a handler needs from its connection: <see cref="Write"/> copies into one buffer made up front and reused
/// (<see cref="Reset"/>), so the context itself never allocates and whatever the benchmark counts is the handler's.
/// </summary>
internal sealed class BufferConnectionContext : IConnectionContext
{
    private readonly byte[] _written;

    public BufferConnectionContext(int capacity) => _written = new byte[capacity];

    /// <summary>Bytes written since the last <see cref="Reset"/>.</summary>
    public int Length { get; private set; }

    public ReadOnlySpan<byte> Written => _written.AsSpan(0, Length);

    public long ConnectionId => 1;

    public string ListenerName => "micro";

    public int ShardId => 0;

    public EndPoint? RemoteEndPoint => null;

    public EndPoint? LocalEndPoint => null;

    public bool IsClosing { get; private set; }

    public void Write(ReadOnlySpan<byte> data)
    {
        data.CopyTo(_written.AsSpan(Length));
        Length += data.Length;
    }

    public void Reset() => Length = 0;

    public void Close() => IsClosing = true;

    public void Abort() => IsClosing = true;

    public T? GetFeature<T>() where T : class => null;
}
