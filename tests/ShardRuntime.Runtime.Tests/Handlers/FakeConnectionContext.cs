using System.Net;
using System.Text;
using ShardRuntime.Runtime.Connections;

namespace ShardRuntime.Runtime.Tests.Handlers;

/// <summary>
/// A connection context for handler tests: records writes into a preallocated buffer (so writing never
/// allocates) and counts Close/Abort. Writes after Close or Abort are ignored, as the contract says.
/// </summary>
internal sealed class FakeConnectionContext : IConnectionContext
{
    private readonly byte[] _written;
    private int _length;

    public FakeConnectionContext(int capacity = 1 << 20) => _written = new byte[capacity];

    public long ConnectionId => 1;

    public string ListenerName => "test";

    public int ShardId => 0;

    public EndPoint? RemoteEndPoint => null;

    public EndPoint? LocalEndPoint => null;

    public bool IsClosing => CloseCount > 0 || AbortCount > 0;

    /// <summary>What the node says of the connection: it should end at its next natural boundary.</summary>
    public bool IsDraining { get; set; }

    public int CloseCount { get; private set; }

    /// <summary>How many of the closes were <see cref="CloseWithoutLinger"/> (they count in <see cref="CloseCount"/> too).</summary>
    public int CloseWithoutLingerCount { get; private set; }

    public void CloseWithoutLinger()
    {
        CloseWithoutLingerCount++;
        Close();
    }

    public int AbortCount { get; private set; }

    public int WriteCount { get; private set; }

    public ReadOnlySpan<byte> Written => _written.AsSpan(0, _length);

    public string WrittenText => Encoding.Latin1.GetString(Written);

    public void Write(ReadOnlySpan<byte> data)
    {
        if (IsClosing)
        {
            return;
        }

        if (_length + data.Length > _written.Length)
        {
            throw new InvalidOperationException("The fake context's write buffer is full; call ClearWritten.");
        }

        data.CopyTo(_written.AsSpan(_length));
        _length += data.Length;
        WriteCount++;
    }

    public void ClearWritten() => _length = 0;

    public void Close() => CloseCount++;

    public void Abort() => AbortCount++;

    public T? GetFeature<T>() where T : class => null;
}
