using System.Net;
using System.Net.Sockets;
using ShardRuntime.Runtime.Datagrams;

namespace ShardRuntime.Runtime.Tests.Datagrams;

/// <summary>
/// Runs a datagram handler over one real UDP socket on 127.0.0.1 (port 0), the way the runtime's UDP shard does it but
/// with plain <see cref="Socket.ReceiveFrom(Span{byte}, SocketFlags, SocketAddress)"/> and <c>SendTo</c> on a thread
/// of its own: one handler from the factory, calls in order, the sends a call queued go out after it, and a call that
/// throws is counted and its sends discarded. Dispose stops the thread (closing the socket ends its receive) and
/// calls <see cref="IDatagramHandler.OnStopped"/>.
/// </summary>
internal sealed class DatagramTestServer : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly Thread _thread;
    private readonly Context _context;
    private readonly IDatagramHandler _handler;
    private int _failures;
    private int _datagrams;

    public DatagramTestServer(IDatagramHandlerFactory factory)
        : this(factory.Create)
    {
    }

    /// <summary>A server whose handler <paramref name="createHandler"/> makes (for example from a generation's lease).</summary>
    public DatagramTestServer(Func<IDatagramContext, IDatagramHandler> createHandler)
    {
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        EndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        _context = new Context(this);
        _handler = createHandler(_context);
        _thread = new Thread(Run) { IsBackground = true, Name = "datagram-test-server" };
        _thread.Start();
    }

    /// <summary>Where the handler listens (127.0.0.1 and the port the kernel chose).</summary>
    public IPEndPoint EndPoint { get; }

    /// <summary>Datagrams handed to the handler so far.</summary>
    public int Datagrams => Volatile.Read(ref _datagrams);

    /// <summary>Calls of <see cref="IDatagramHandler.OnDatagram"/> that threw (their datagrams were dropped).</summary>
    public int Failures => Volatile.Read(ref _failures);

    /// <summary>The last exception a handler call threw, for the assertion message.</summary>
    public Exception? LastFailure { get; private set; }

    public void Dispose()
    {
        _socket.Dispose();
        if (!_thread.Join(TimeSpan.FromSeconds(20)))
            throw new TimeoutException("the datagram test server's thread did not end within 20 s of closing its socket");
        _handler.OnStopped(_context);
    }

    private void Run()
    {
        var buffer = new byte[65_536];
        var peer = new SocketAddress(AddressFamily.InterNetwork);
        while (true)
        {
            int received;
            try
            {
                received = _socket.ReceiveFrom(buffer, SocketFlags.None, peer);
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException { SocketErrorCode: SocketError.OperationAborted or SocketError.Interrupted or SocketError.Shutdown })
            {
                return;
            }
            catch (SocketException)
            {
                continue; // ICMP port unreachable from an earlier send (ECONNREFUSED): keep serving, as the runtime does.
            }

            _context.Begin(peer);
            try
            {
                _handler.OnDatagram(_context, buffer.AsSpan(0, received), peer);
                _context.Flush();
            }
            catch (Exception e)
            {
                LastFailure = e;
                Interlocked.Increment(ref _failures);
                _context.Discard();
            }
            finally
            {
                Interlocked.Increment(ref _datagrams);
            }
        }
    }

    private sealed class Context(DatagramTestServer server) : IDatagramContext
    {
        private readonly List<(SocketAddress Peer, byte[] Datagram)> _queued = [];
        private SocketAddress? _peer;

        public string ListenerName => "test";

        public int ShardId => 0;

        public EndPoint? LocalEndPoint => server.EndPoint;

        public void Begin(SocketAddress peer) => _peer = peer;

        public void Reply(ReadOnlySpan<byte> datagram)
        {
            var peer = _peer ?? throw new InvalidOperationException("Reply is only possible while a datagram is handled.");
            SendTo(peer, datagram);
        }

        public void SendTo(SocketAddress peer, ReadOnlySpan<byte> datagram) => _queued.Add((Copy(peer), datagram.ToArray()));

        public T? GetFeature<T>() where T : class => null;

        private static SocketAddress Copy(SocketAddress peer)
        {
            var copy = new SocketAddress(peer.Family, peer.Size);
            peer.Buffer.Span[..peer.Size].CopyTo(copy.Buffer.Span);
            return copy;
        }

        public void Flush()
        {
            foreach (var (peer, datagram) in _queued)
            {
                try
                {
                    server._socket.SendTo(datagram, SocketFlags.None, peer);
                }
                catch (SocketException)
                {
                    // Best effort, as the runtime: a refused datagram is dropped.
                }
            }

            Discard();
        }

        public void Discard()
        {
            _queued.Clear();
            _peer = null;
        }
    }
}
