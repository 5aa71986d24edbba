using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using ShardRuntime.Runtime.Datagrams;

namespace ShardRuntime.Actors.Tests.Support;

/// <summary>
/// Replies "g&lt;generation&gt;:&lt;payload&gt;" (the generation that served the datagram), throws on a payload starting
/// with "throw", and records every OnStopped (generation, shard) and every handler made.
/// </summary>
internal sealed class DatagramGenerationEchoFactory : IDatagramHandlerFactory
{
    public readonly ConcurrentQueue<(int Generation, int Shard)> Stopped = new();
    public readonly ConcurrentQueue<(int Generation, int Shard)> Created = new();

    public string Name => "generation-echo";

    public IDatagramHandler Create(IDatagramContext context)
    {
        Created.Enqueue((context.HandlerGeneration, context.ShardId));
        return new Handler(this);
    }

    private sealed class Handler(DatagramGenerationEchoFactory owner) : IDatagramHandler
    {
        private readonly byte[] _reply = new byte[2048];

        public void OnDatagram(IDatagramContext context, ReadOnlySpan<byte> datagram, SocketAddress peer)
        {
            // The reply is queued first, so a throw afterwards shows that the failed datagram's sends are discarded.
            var prefix = Encoding.ASCII.GetBytes($"g{context.HandlerGeneration}:");
            prefix.CopyTo(_reply, 0);
            datagram.CopyTo(_reply.AsSpan(prefix.Length));
            context.Reply(_reply.AsSpan(0, prefix.Length + datagram.Length));
            if (datagram.StartsWith("throw"u8)) throw new InvalidOperationException("throw requested by the test");
        }

        public void OnStopped(IDatagramContext context) => owner.Stopped.Enqueue((context.HandlerGeneration, context.ShardId));
    }
}

/// <summary>
/// A client that numbers every datagram: <paramref name="flows"/> sockets (source ports), each sending "&lt;flow&gt;-&lt;seq&gt;"
/// and waiting for the reply before the next (so a loss shows as a timeout, never as a retransmission), until stopped.
/// Counts replies per number: lost (no reply within the timeout), duplicated (a reply for a number twice, or one not
/// asked), and what prefix each reply came with.
/// </summary>
internal sealed class NumberedDatagramStream : IAsyncDisposable
{
    private readonly List<Task> _flows = [];
    private readonly CancellationTokenSource _stop = new();
    private long _sent;
    private long _answered;
    private long _lost;
    private long _duplicated;
    private readonly ConcurrentDictionary<string, long> _prefixes = new();
    private readonly ConcurrentQueue<string> _wrong = new();

    public NumberedDatagramStream(IPEndPoint target, int flows, TimeSpan replyTimeout)
    {
        for (var f = 0; f < flows; f++)
        {
            var flow = f;
            _flows.Add(Task.Run(() => RunFlow(target, flow, replyTimeout)));
        }
    }

    public long Sent => Interlocked.Read(ref _sent);
    public long Answered => Interlocked.Read(ref _answered);
    public long Lost => Interlocked.Read(ref _lost);
    public long Duplicated => Interlocked.Read(ref _duplicated);
    public IReadOnlyDictionary<string, long> Prefixes => _prefixes;
    public IReadOnlyCollection<string> Wrong => _wrong;

    private async Task RunFlow(IPEndPoint target, int flow, TimeSpan replyTimeout)
    {
        using var socket = new Socket(target.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(target.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback, 0));
        var buffer = new byte[2048];
        for (long seq = 0; !_stop.IsCancellationRequested; seq++)
        {
            var payload = $"{flow}-{seq}";
            await socket.SendToAsync(Encoding.ASCII.GetBytes(payload), target);
            Interlocked.Increment(ref _sent);
            using var timeout = new CancellationTokenSource(replyTimeout);
            while (true)
            {
                int n;
                try
                {
                    n = (await socket.ReceiveFromAsync(buffer, new IPEndPoint(target.Address, 0), timeout.Token)).ReceivedBytes;
                }
                catch (OperationCanceledException)
                {
                    Interlocked.Increment(ref _lost);
                    break;
                }
                var reply = Encoding.ASCII.GetString(buffer, 0, n);
                var colon = reply.IndexOf(':');
                var prefix = colon < 0 ? "" : reply[..colon];
                var body = colon < 0 ? reply : reply[(colon + 1)..];
                if (body == payload)
                {
                    _prefixes.AddOrUpdate(prefix, 1, (_, c) => c + 1);
                    Interlocked.Increment(ref _answered);
                    break;
                }
                // A reply to an earlier number (late after a loss counted, or twice): a duplicate.
                Interlocked.Increment(ref _duplicated);
                _wrong.Enqueue($"{reply} while waiting for {payload}");
            }
        }
    }

    /// <summary>Waits until <paramref name="answered"/> more replies came than when called.</summary>
    public async Task ProgressAsync(long answered, TimeSpan timeout)
    {
        var until = Answered + answered;
        var deadline = DateTime.UtcNow + timeout;
        while (Answered < until)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the stream answered {Answered} of {until} within {timeout} (lost {Lost})");
            await Task.Delay(10);
        }
    }

    /// <summary>Stops every flow once its current datagram was answered (or timed out). Idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        _stop.Cancel();
        await Task.WhenAll(_flows);
        _stop.Dispose();
    }

    private int _disposed;
}

/// <summary>Replies with the id of the shard (socket) that received the datagram, as text.</summary>
internal sealed class ShardEchoFactory : IDatagramHandlerFactory
{
    public string Name => "shard-echo";

    public IDatagramHandler Create(IDatagramContext context) => new Handler();

    private sealed class Handler : IDatagramHandler
    {
        public void OnDatagram(IDatagramContext context, ReadOnlySpan<byte> datagram, SocketAddress peer) =>
            context.Reply(Encoding.ASCII.GetBytes(context.ShardId.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }
}

/// <summary>
/// On a datagram, tells its shard's actor (found through <see cref="ShardRuntime.Actors.Listeners.IDatagramActorFeature"/>)
/// a copy of the peer; OnMessage then sends "from-actor &lt;shard&gt;" to that peer.
/// </summary>
internal sealed class ActorRoundTripFactory : IDatagramHandlerFactory
{
    public string Name => "actor-round-trip";

    public IDatagramHandler Create(IDatagramContext context) => new Handler();

    private sealed record Later(SocketAddress Peer);

    private sealed class Handler : IDatagramHandler
    {
        public void OnDatagram(IDatagramContext context, ReadOnlySpan<byte> datagram, SocketAddress peer)
        {
            var copy = new SocketAddress(peer.Family, peer.Size);
            peer.Buffer.Span[..peer.Size].CopyTo(copy.Buffer.Span);
            context.GetFeature<ShardRuntime.Actors.Listeners.IDatagramActorFeature>()!.Self.Tell(new Later(copy), Akka.Actor.ActorRefs.NoSender);
        }

        public void OnMessage(IDatagramContext context, object message)
        {
            if (message is Later later)
                context.SendTo(later.Peer, Encoding.ASCII.GetBytes($"from-actor {context.ShardId.ToString(System.Globalization.CultureInfo.InvariantCulture)}"));
        }
    }
}
