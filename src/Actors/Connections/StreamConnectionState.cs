using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Event;
using ShardRuntime.Actors.Listeners;
using ShardRuntime.Runtime.Connections;
using ShardRuntime.Runtime.Loading;
using ShardRuntime.Runtime.Sockets.Readiness;

namespace ShardRuntime.Actors.Connections;

/// <summary>
/// One connection on the stream path (the async handler style, a span handler with <c>io = stream</c>, or any handler
/// behind a stream layer such as TLS): its socket, as a .NET <see cref="System.Net.Sockets.Socket"/> (the descriptor is
/// the socket's from here on), the handler's view of it (<see cref="IStreamConnection"/>, with the connection's actor and
/// its messages as features) and what its actor keeps. It lives outside the <see cref="StreamConnectionActor"/> instance
/// (its Props carry it), so a restart of the actor (its shard restarted) continues the same connection and task.
/// The handler's task reads and writes (<see cref="ConnectionSocketStream"/>) and reports bytes and activity here; the
/// actor alone changes the connection's life (drain, abort, finish) and closes the socket; the shard's sweep reads
/// <see cref="LastActivity"/> and <see cref="Finished"/>.
/// </summary>
internal sealed class StreamConnectionState : IStreamConnection, IConnectionActorFeature, IConnectionMessagesFeature, ISocketHandOffFeature
{
    private readonly CancellationTokenSource _draining = new();
    private readonly CancellationTokenSource _aborted = new();
    private readonly Channel<object> _messages = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true });
    private Stream? _stream;
    private IDuplexPipe? _transport;

    public StreamConnectionState(
        AcceptedSocket accepted, long id, ShardSocket shard, ConnectionSettings settings, HandlerLease lease,
        ShardCounters counters, ConnectionBudget budget, ILoggingAdapter log, ActorSystem system, IConnectionStreamLayer? layer)
    {
        Handle = new SafeSocketHandle(accepted.Fd, ownsHandle: true);
        Socket = new Socket(Handle);
        SocketStream = new ConnectionSocketStream(this);
        ConnectionId = id;
        Shard = shard;
        Settings = settings;
        Lease = lease;
        Counters = counters;
        Budget = budget;
        Log = log;
        ActorSystem = system;
        Layer = layer;
        LastActivity = Environment.TickCount64;
    }

    /// <summary>The connection's socket; closed by its actor only (<see cref="StreamConnectionActor"/>).</summary>
    public readonly Socket Socket;
    /// <summary>The socket's handle, held by <see cref="ConnectionSocketStream"/> around each system call.</summary>
    public readonly SafeSocketHandle Handle;
    /// <summary>The socket's bytes, counted (what a stream layer wraps).</summary>
    public readonly ConnectionSocketStream SocketStream;
    public readonly ShardSocket Shard;
    public readonly ConnectionSettings Settings;
    /// <summary>The handler generation this connection runs on, held until the connection ends.</summary>
    public readonly HandlerLease Lease;
    public readonly ShardCounters Counters;
    public readonly ConnectionBudget Budget;
    public readonly ILoggingAdapter Log;
    public readonly ActorSystem ActorSystem;
    /// <summary>The listener's stream layer (TLS), or null for the socket's bytes as they are.</summary>
    public readonly IConnectionStreamLayer? Layer;

    /// <summary>The connection's actor (made with the connection, before its task starts).</summary>
    public IActorRef Self = ActorRefs.Nobody;
    /// <summary>The task was started (a restarted actor does not start another); the actor's only.</summary>
    public bool Started;
    /// <summary>Ended and accounted for: socket closed, counters, budget and lease given back. Written by the actor.</summary>
    public bool Finished;
    /// <summary>Why the connection is ending, once the runtime decided it (an abort); the actor's only.</summary>
    public ConnectionCloseReason? EndReason;
    public bool GenerationRetired;
    public ICancelable? GenerationTimer;
    /// <summary>In the shard's list its sweep watches for the idle timeout.</summary>
    public bool Watched;

    /// <summary>When a byte was last received or sent (Environment.TickCount64); the shard's sweep reads it.</summary>
    public long LastActivity;
    public long BytesIn;
    public long BytesOut;
    private int _gone;

    /// <summary>The handler serves a span-style generation (through <see cref="SpanHandlerAdapter"/>).</summary>
    public bool SpanStyle => !Lease.Generation.IsStream;

    /// <summary>The connection was aborted, or the socket failed underneath the handler.</summary>
    public bool IsAborted => _aborted.IsCancellationRequested;

    /// <summary>The socket failed underneath the handler (a reset, a read after the peer went).</summary>
    public bool PeerGone => Volatile.Read(ref _gone) != 0;

    /// <summary>Whether the handler's pipes were made (they are completed, so flushed, at the graceful close).</summary>
    public bool HasTransport => _transport is not null;

    /// <summary>The stream the handler is served, set once the layer (if any) wrapped the socket's.</summary>
    public Stream? HandlerStream
    {
        get => _stream;
        set => _stream = value;
    }

    public void Received(int n)
    {
        if (n <= 0) return;
        Interlocked.Add(ref BytesIn, n);
        Counters.Received(n);
        Volatile.Write(ref LastActivity, Environment.TickCount64);
    }

    public void Sent(int n)
    {
        if (n <= 0) return;
        Interlocked.Add(ref BytesOut, n);
        Counters.Sent(n);
        Volatile.Write(ref LastActivity, Environment.TickCount64);
    }

    /// <summary>The socket failed under a read or write (<paramref name="error"/>): the connection is gone. Returns what to throw.</summary>
    public IOException Gone(Exception error)
    {
        if (Interlocked.Exchange(ref _gone, 1) == 0) _ = _aborted.CancelAsync();
        return error as IOException ?? new IOException($"connection {ConnectionId}: {error.Message}", error);
    }

    /// <summary>Tells the handler it is aborted (its callbacks run on the thread pool, not on the caller's thread).</summary>
    public void CancelAborted() => _ = _aborted.CancelAsync();

    /// <summary>Tells the handler to end at its next boundary (callbacks on the thread pool).</summary>
    public void CancelDraining() => _ = _draining.CancelAsync();

    /// <summary>Messages for the handler (<see cref="IConnectionMessagesFeature"/>).</summary>
    public void Deliver(object message) => _messages.Writer.TryWrite(message);

    /// <summary>No more messages: the connection ended.</summary>
    public void CompleteMessages() => _messages.Writer.TryComplete();

    // IStreamConnection
    public long ConnectionId { get; }
    public string ListenerName => Settings.Listener;
    public int ShardId => Shard.ShardId;
    public int HandlerGeneration => Lease.Generation.Number;
    public EndPoint? RemoteEndPoint => Finished ? null : TryRead(static s => s.RemoteEndPoint);
    public EndPoint? LocalEndPoint => Finished ? null : TryRead(static s => s.LocalEndPoint);

    public IDuplexPipe Transport => _transport ??= MakeTransport();

    public Stream Stream => _stream ?? throw new InvalidOperationException("the connection's stream is not ready before its stream layer wrapped it");

    public CancellationToken Draining => _draining.Token;
    public CancellationToken Aborted => _aborted.Token;

    /// <summary>Asks the connection's actor to abort (it closes the socket); the handler learns at once through <see cref="Aborted"/>.</summary>
    public void Abort()
    {
        if (Volatile.Read(ref Finished)) return;
        CancelAborted();
        Self.Tell(new Connection.Abort(ConnectionCloseReason.Aborted));
    }

    public T? GetFeature<T>() where T : class
    {
        if (typeof(T) == typeof(IConnectionActorFeature) || typeof(T) == typeof(IConnectionMessagesFeature)) return (T)(object)this;
        if (typeof(T) == typeof(ISocketHandOffFeature) && Layer is null) return (T)(object)this;
        if (typeof(T) == typeof(Runtime.Tls.ITlsConnectionFeature) && _stream is System.Net.Security.SslStream ssl)
            return (T)(object)(_tls ??= new Runtime.Tls.SslStreamTlsFeature(ssl));
        return null;
    }

    private Runtime.Tls.ITlsConnectionFeature? _tls;

    /// <summary>The handler took the socket (<see cref="ISocketHandOffFeature"/>): its I/O and idleness are the handler's.</summary>
    public bool HandedOff => Volatile.Read(ref _handedOff) != 0;

    private int _handedOff;

    Socket ISocketHandOffFeature.TakeSocket()
    {
        if (_transport is not null || Layer is not null)
            throw new InvalidOperationException("the connection's socket cannot be handed over once its pipe or stream is in use");
        if (Interlocked.Exchange(ref _handedOff, 1) != 0)
            throw new InvalidOperationException("the connection's socket was handed over already");
        SocketStream.Unregister(closing: false); // the handler's I/O is .NET's from now on
        return Socket;
    }

    // IConnectionActorFeature
    IActorRef IConnectionActorFeature.Self => Self;
    ActorSystem IConnectionActorFeature.System => ActorSystem;

    // IConnectionMessagesFeature
    ChannelReader<object> IConnectionMessagesFeature.Messages => _messages.Reader;

    private IDuplexPipe MakeTransport()
    {
        var stream = Stream;
        var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: Settings.ReceiveBufferSize, leaveOpen: true));
        var writer = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        return new DuplexPipe(reader, writer);
    }

    private EndPoint? TryRead(Func<Socket, EndPoint?> read)
    {
        try
        {
            return read(Socket);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return null;
        }
    }

    private sealed record DuplexPipe(PipeReader Input, PipeWriter Output) : IDuplexPipe;
}
