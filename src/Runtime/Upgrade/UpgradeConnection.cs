using System.Net.Sockets;

namespace ShardRuntime.Runtime.Upgrade;

/// <summary>
/// One end of an upgrade conversation: writes and reads length-prefixed JSON frames over a connected Unix domain
/// stream socket, with descriptors attached to batch frames. Owns the socket and any descriptor received but not yet
/// claimed by a frame; disposing closes both.
/// </summary>
/// <remarks>
/// A stream socket does not keep message boundaries: one recvmsg may return the end of one frame and the start of
/// the next, and a frame may need several reads. The descriptors arrive with the bytes of the sendmsg that carried
/// them, which is the first sendmsg of their frame, so each read's descriptors are remembered with the stream offsets
/// of its bytes and given to the last frame that starts among them.
/// </remarks>
internal sealed class UpgradeConnection : IDisposable
{
    private readonly List<Arrival> _arrivals = [];
    private byte[] _buffer = new byte[16 * 1024];
    private int _start;
    private int _end;
    private long _streamOffsetOfStart;
    private bool _disposed;

    public UpgradeConnection(Socket socket)
    {
        Socket = socket;
    }

    public Socket Socket { get; }

    /// <summary>Writes <paramref name="frame"/>, with <paramref name="fds"/> attached to its first bytes; bounded by <paramref name="timeout"/>.</summary>
    public async Task WriteAsync(UpgradeFrame frame, IReadOnlyList<int> fds, TimeSpan timeout, CancellationToken cancellationToken)
    {
        byte[] bytes = frame.Encode();

        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        try
        {
            int sent = 0;
            if (fds.Count > 0)
            {
                sent = UnixFdPassing.Send(Socket, bytes, fds.ToArray(), timeout);
            }

            while (sent < bytes.Length)
            {
                sent += await Socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None, timeoutSource.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or TimeoutException && !cancellationToken.IsCancellationRequested)
        {
            throw new UpgradeException($"Sending {frame.Type} timed out after {timeout.TotalSeconds:0.###} s: the peer does not read.", ex);
        }
        catch (SocketException ex)
        {
            throw new UpgradePeerGoneException($"Sending {frame.Type} failed: {ex.SocketErrorCode} ({ex.Message}); the peer has gone.", ex);
        }
    }

    /// <summary>
    /// Reads the next frame, waiting at most <paramref name="timeout"/>; <paramref name="waitingFor"/> names it in errors.
    /// A batch frame comes with one descriptor per label (the caller owns them); any other frame with none.
    /// </summary>
    public async Task<(UpgradeFrame Frame, List<int> Fds)> ReadAsync(string waitingFor, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        try
        {
            while (true)
            {
                if (TryTakeFrame(out var frame, out var fds))
                {
                    return (frame, fds);
                }

                // A zero-byte receive completes when data (or end of stream) is there, without taking any.
                await Socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, timeoutSource.Token).ConfigureAwait(false);
                EnsureRoom();
                var received = new List<int>();
                int count = UnixFdPassing.Receive(Socket, _buffer.AsSpan(_end), received);
                long from = _streamOffsetOfStart + (_end - _start);
                if (received.Count > 0)
                {
                    _arrivals.Add(new Arrival(from, from + count, received));
                }

                if (count == 0)
                {
                    throw new UpgradePeerGoneException($"The peer closed the connection while this side waited for {waitingFor}.");
                }

                _end += count;
            }
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new UpgradeException($"No {waitingFor} within {timeout.TotalSeconds:0.###} s.", ex);
        }
        catch (SocketException ex)
        {
            throw new UpgradePeerGoneException($"Reading {waitingFor} failed: {ex.SocketErrorCode} ({ex.Message}).", ex);
        }
        catch (IOException ex)
        {
            throw new UpgradeException($"Reading {waitingFor} failed: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Shuts down the receiving half (shutdown(SHUT_RD)): bytes already queued can still be read, but the peer's later
    /// writes fail (EPIPE) instead of being delivered.
    /// </summary>
    public void ShutdownReceive()
    {
        try
        {
            Socket.Shutdown(SocketShutdown.Receive);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already gone: nothing more can arrive anyway.
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var arrival in _arrivals)
        {
            UnixFdPassing.CloseAll(arrival.Fds);
        }

        _arrivals.Clear();
        Socket.Dispose();
    }

    private bool TryTakeFrame(out UpgradeFrame frame, out List<int> fds)
    {
        fds = [];
        long frameOffset = _streamOffsetOfStart;
        if (!UpgradeFrame.TryDecode(_buffer.AsSpan(_start, _end - _start), out var decoded, out int consumed))
        {
            frame = null!;
            return false;
        }

        frame = decoded;
        _start += consumed;
        _streamOffsetOfStart += consumed;

        // The kernel ends a recvmsg right after the message that carried descriptors (unix_stream_read_generic), and the
        // sender attaches them to a frame's first bytes: so they belong to the LAST frame that starts among the bytes of
        // the read that brought them. A read may begin with the tail of earlier frames. Descriptors that came before
        // this frame and were claimed by none belong to nothing.
        long nextFrameOffset = _streamOffsetOfStart;
        for (int i = 0; i < _arrivals.Count; i++)
        {
            var arrival = _arrivals[i];
            if (arrival.From <= frameOffset && frameOffset < arrival.To && nextFrameOffset >= arrival.To)
            {
                fds = arrival.Fds;
                _arrivals.RemoveAt(i);
                break;
            }

            if (arrival.To <= frameOffset)
            {
                throw new UpgradeException($"{arrival.Fds.Count} descriptor(s) arrived that belong to no frame.");
            }
        }

        int expected = frame.Type == UpgradeFrameType.Batch ? frame.Labels?.Count ?? 0 : 0;
        if (fds.Count != expected)
        {
            UnixFdPassing.CloseAll(fds);
            throw new UpgradeException(
                $"A {frame.Type} frame{(frame.Batch is { } b ? $" (batch {b})" : "")} came with {fds.Count} descriptor(s), expected {expected}; " +
                "descriptors were lost or the peer is not an upgrade server.");
        }

        return true;
    }

    private void EnsureRoom()
    {
        if (_start == _end)
        {
            _start = _end = 0;
        }

        if (_end < _buffer.Length)
        {
            return;
        }

        int used = _end - _start;
        if (used < _buffer.Length / 2)
        {
            Array.Copy(_buffer, _start, _buffer, 0, used);
        }
        else
        {
            var bigger = new byte[Math.Min(_buffer.Length * 2, UpgradeFrame.MaxLength + UpgradeFrame.PrefixLength)];
            Array.Copy(_buffer, _start, bigger, 0, used);
            _buffer = bigger;
        }

        _start = 0;
        _end = used;
    }

    private sealed record Arrival(long From, long To, List<int> Fds);
}
