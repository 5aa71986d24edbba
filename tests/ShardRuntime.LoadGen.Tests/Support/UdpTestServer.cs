using System.Net;
using System.Net.Sockets;

namespace ShardRuntime.LoadGen.Tests.Support;

/// <summary>
/// A tiny UDP server on 127.0.0.1, port 0, for the load generator's specs: every datagram (numbered from 1 in arrival
/// order) is answered with what <c>answer</c>(number, datagram) returns: nothing (dropped), one reply, or more
/// (duplicates), each sent back to the datagram's source, after <c>delay</c> if one is given. It counts the datagrams
/// received, the sources seen, and the most datagrams it held unanswered at once. Disposing stops it.
/// </summary>
internal sealed class UdpTestServer : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _receiveLoop;
    private readonly Func<int, byte[], IReadOnlyList<byte[]>> _answer;
    private readonly TimeSpan _delay;
    private readonly HashSet<EndPoint> _sources = [];
    private int _received;
    private int _outstanding;
    private int _maxOutstanding;

    private UdpTestServer(Func<int, byte[], IReadOnlyList<byte[]>> answer, TimeSpan delay)
    {
        _answer = answer;
        _delay = delay;
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveBufferSize = 4 << 20 };
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _receiveLoop = ReceiveAsync();
    }

    public IPEndPoint EndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    public int Received => Volatile.Read(ref _received);

    /// <summary>The most datagrams received and not yet answered (or dropped) at once.</summary>
    public int MaxOutstanding => Volatile.Read(ref _maxOutstanding);

    public int Sources
    {
        get
        {
            lock (_sources)
                return _sources.Count;
        }
    }

    public static UdpTestServer Start(Func<int, byte[], IReadOnlyList<byte[]>> answer, TimeSpan delay = default) => new(answer, delay);

    /// <summary>Answers every datagram with the same bytes.</summary>
    public static UdpTestServer Echo() => Start((_, datagram) => [datagram]);

    private async Task ReceiveAsync()
    {
        var buffer = new byte[1 << 16];
        while (true)
        {
            SocketReceiveFromResult result;
            try
            {
                result = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            int number = Interlocked.Increment(ref _received);
            lock (_sources)
                _sources.Add(result.RemoteEndPoint);
            int outstanding = Interlocked.Increment(ref _outstanding);
            int seen;
            while (outstanding > (seen = Volatile.Read(ref _maxOutstanding)) && Interlocked.CompareExchange(ref _maxOutstanding, outstanding, seen) != seen)
            {
            }
            var replies = _answer(number, buffer.AsSpan(0, result.ReceivedBytes).ToArray());
            if (_delay > TimeSpan.Zero)
                _ = ReplyAsync(replies, result.RemoteEndPoint, _delay);
            else
                await ReplyAsync(replies, result.RemoteEndPoint, TimeSpan.Zero);
        }
    }

    private async Task ReplyAsync(IReadOnlyList<byte[]> replies, EndPoint to, TimeSpan delay)
    {
        try
        {
            if (delay > TimeSpan.Zero)
                await Task.Delay(delay, _stop.Token);
            // Counted as answered before the reply leaves, so the client cannot have more in flight than we hold.
            Interlocked.Decrement(ref _outstanding);
            foreach (var reply in replies)
                await _socket.SendToAsync(reply, SocketFlags.None, to, _stop.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _socket.Dispose();
        await _receiveLoop;
        _stop.Dispose();
    }
}
