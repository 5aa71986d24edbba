using System.Net.Sockets;

namespace ShardRuntime.Actors.Connections;

/// <summary>
/// A stream connection's raw bytes: reads and writes on its .NET <see cref="System.Net.Sockets.Socket"/> (asynchronous,
/// completed by .NET's own socket engine on the thread pool), each counted for the shard and as activity for the idle
/// timeout. It owns nothing: disposing it closes nothing (the connection's actor closes the socket). A socket error
/// (a reset, the socket closed underneath) tells the connection it is gone (<see cref="StreamConnectionState.Gone"/>,
/// which cancels <see cref="Runtime.Connections.IStreamConnection.Aborted"/>) before it is thrown, so the runtime can
/// tell a peer that went away from a handler that failed.
/// </summary>
internal sealed class ConnectionSocketStream : Stream
{
    private readonly StreamConnectionState _connection;

    public ConnectionSocketStream(StreamConnectionState connection) => _connection = connection;

    private Socket Socket => _connection.Socket;

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            var n = await Socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            _connection.Received(n);
            return n;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            throw _connection.Gone(e);
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            while (!buffer.IsEmpty)
            {
                // Waits while the kernel's send buffer is full: the peer's reading paces the writer (backpressure).
                var n = await Socket.SendAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                _connection.Sent(n);
                buffer = buffer[n..];
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            throw _connection.Gone(e);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    // The synchronous members block a thread-pool thread: handlers should await. They exist for code that insists.
    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
