using System.Net;
using System.Text;
using Akka.Actor;
using ShardRuntime.Actors.Connections;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Connections;

namespace ShardRuntime.TestKit;

/// <summary>
/// A connection without a socket, to unit-test a span handler (<see cref="IConnectionHandler"/>): the test plays the peer
/// (<see cref="Receive(ReadOnlySpan{byte})"/>, <see cref="EndInput"/>, <see cref="Reset"/>) and the runtime's deadlines
/// (<see cref="TimeOutRequest"/>), and reads what the handler sent (<see cref="Written"/>, <see cref="TakeWrittenText"/>).
/// It drives the handler as ShardRuntime.Actors does on a real socket:
/// <list type="bullet">
/// <item>the handler is made and told <see cref="IConnectionHandler.OnConnected"/> (<see cref="Connect(IConnectionHandlerFactory)"/>);</item>
/// <item>each <see cref="Receive(ReadOnlySpan{byte})"/> is one read: the bytes the handler left unconsumed are presented
/// again followed by the new ones, and only then (no new bytes, no new call); more than <see cref="MaxReceiveBytes"/>
/// left unconsumed ends the connection with <see cref="ConnectionCloseReason.ReceiveLimitExceeded"/>;</item>
/// <item>writes are sent after the callback that made them (dropped by an <see cref="Abort"/> in it); writes after a
/// close are ignored;</item>
/// <item>a graceful <see cref="Close"/> shuts the sending side down (<see cref="OutputEnded"/>) and waits for the peer's
/// FIN (<see cref="EndInput"/>), discarding what the peer still sends, before <see cref="IConnectionHandler.OnClosed"/>;
/// <see cref="CloseWithoutLinger"/> and <see cref="Abort"/> end the connection at once;</item>
/// <item>an exception from the handler ends this connection with <see cref="ConnectionCloseReason.HandlerFailed"/>
/// (kept in <see cref="HandlerFailure"/>), as the runtime contains it;</item>
/// <item><see cref="IConnectionHandler.OnClosed"/> is called exactly once.</item>
/// </list>
/// One difference: a real socket may split or join the peer's sends into reads of any size; here each
/// <see cref="Receive(ReadOnlySpan{byte})"/> is one read, so a test chooses the splits it wants to prove.
/// Not thread-safe: use it from the test's thread, as the runtime calls a handler from one thread at a time.
/// </summary>
public sealed class FakeConnectionContext : IConnectionContext
{
    private readonly Dictionary<Type, object> _features = new();
    private readonly MemoryStream _pending = new();
    private readonly MemoryStream _sent = new();
    private byte[] _unconsumed = [];
    private bool _closeRequested;
    private bool _noLinger;
    private bool _abortRequested;
    private bool _inputEnded;
    private bool _connected;
    private ConnectionCloseReason _closeReason = ConnectionCloseReason.Closed;
    private EndPoint? _remoteEndPoint = new IPEndPoint(IPAddress.Loopback, 0);
    private EndPoint? _localEndPoint = new IPEndPoint(IPAddress.Loopback, 0);

    /// <inheritdoc />
    public long ConnectionId { get; init; } = 1;

    /// <inheritdoc />
    public string ListenerName { get; init; } = "test";

    /// <inheritdoc />
    public int ShardId { get; init; }

    /// <summary>The generation of the handler code; set it to what the test needs (the runtime counts 1, 2, ... per reload).</summary>
    public int HandlerGeneration { get; set; } = 1;

    /// <summary>Whether the node wants this connection to end (after a reload or an upgrade); set it to test how the handler ends at its next boundary.</summary>
    public bool IsDraining { get; set; }

    /// <summary>The peer's address (loopback port 0 unless set); null once the connection ended, as in the runtime.</summary>
    public EndPoint? RemoteEndPoint
    {
        get => IsClosed ? null : _remoteEndPoint;
        init => _remoteEndPoint = value;
    }

    /// <summary>The local address (loopback port 0 unless set); null once the connection ended, as in the runtime.</summary>
    public EndPoint? LocalEndPoint
    {
        get => IsClosed ? null : _localEndPoint;
        init => _localEndPoint = value;
    }

    /// <summary>
    /// Unconsumed bytes the handler may leave before the connection is closed with
    /// <see cref="ConnectionCloseReason.ReceiveLimitExceeded"/>: <c>max-receive-bytes</c> of reference.conf's
    /// listener-defaults unless set.
    /// </summary>
    public int MaxReceiveBytes { get; init; } =
        (int)(ReferenceConfig.Default.GetByteSize($"{ShardRuntimeSettings.Section}.listener-defaults.max-receive-bytes")
              ?? throw new InvalidOperationException("reference.conf has no listener-defaults.max-receive-bytes"));

    /// <summary>The handler being driven (null before <see cref="Connect(IConnectionHandler)"/>, or when its factory threw).</summary>
    public IConnectionHandler? Handler { get; private set; }

    /// <summary>True once the handler (or a deadline) asked to close or abort, or the connection ended.</summary>
    public bool IsClosing => _closeRequested || _abortRequested || IsClosed;

    /// <summary>
    /// True once the sending side is shut down: the peer reads the end of the stream after <see cref="Written"/>. Set by a
    /// graceful close once its writes are sent, and when the connection ended.
    /// </summary>
    public bool OutputEnded { get; private set; }

    /// <summary>True once the connection ended and <see cref="IConnectionHandler.OnClosed"/> was called (exactly once).</summary>
    public bool IsClosed { get; private set; }

    /// <summary>Why the connection ended (the reason given to <see cref="IConnectionHandler.OnClosed"/>); null while it is open.</summary>
    public ConnectionCloseReason? CloseReason { get; private set; }

    /// <summary>Whether the handler asked for <see cref="CloseWithoutLinger"/> (the runtime then skips waiting for the peer's FIN).</summary>
    public bool ClosedWithoutLinger => _noLinger;

    /// <summary>The first exception the handler threw (its connection ended with <see cref="ConnectionCloseReason.HandlerFailed"/>), or null.</summary>
    public Exception? HandlerFailure { get; private set; }

    /// <summary>The bytes the handler left unconsumed: the start of what it is presented next.</summary>
    public ReadOnlySpan<byte> Unconsumed => _unconsumed;

    /// <summary>Every byte sent to the peer since the start (or the last <see cref="TakeWritten"/>).</summary>
    public ReadOnlySpan<byte> Written => _sent.GetBuffer().AsSpan(0, (int)_sent.Length);

    /// <summary><see cref="Written"/> as UTF-8 text.</summary>
    public string WrittenText => Encoding.UTF8.GetString(Written);

    /// <summary>Makes the handler with <paramref name="factory"/> (as the runtime does on accept) and connects it.</summary>
    /// <exception cref="InvalidOperationException">This fake was connected already (make one per connection).</exception>
    public FakeConnectionContext Connect(IConnectionHandlerFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        EnsureNotConnected();
        _connected = true;
        if (Call(f => Handler = f.Create(this), factory)) ConnectHandler();
        return this;
    }

    /// <summary>Connects <paramref name="handler"/>: calls <see cref="IConnectionHandler.OnConnected"/> and sends what it wrote.</summary>
    /// <exception cref="InvalidOperationException">This fake was connected already (make one per connection).</exception>
    public FakeConnectionContext Connect(IConnectionHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        EnsureNotConnected();
        _connected = true;
        Handler = handler;
        ConnectHandler();
        return this;
    }

    private void ConnectHandler()
    {
        if (Call(static (h, s) => h.OnConnected(s), this)) AfterCallback();
    }

    private void EnsureNotConnected()
    {
        if (_connected) throw new InvalidOperationException("the fake connection is connected already: make a new FakeConnectionContext per connection");
    }

    /// <summary>
    /// The peer sent <paramref name="data"/> (one read): the handler is given its unconsumed bytes followed by these, and
    /// what it wrote is sent. On a closing connection (waiting for the peer's FIN) the bytes are discarded, as the runtime
    /// does. Empty data is no read (the runtime never calls with none).
    /// </summary>
    /// <exception cref="InvalidOperationException">The connection ended, the peer ended its input already, or it was never connected.</exception>
    public FakeConnectionContext Receive(ReadOnlySpan<byte> data)
    {
        EnsurePeerMaySend();
        if (data.IsEmpty) return this;
        if (OutputEnded) return this; // lingering for the peer's FIN: what it still sends is read and dropped
        while (!data.IsEmpty && !IsClosed)
        {
            // A read fills at most the room the receive buffer has left (it grows to max-receive-bytes).
            var room = MaxReceiveBytes - _unconsumed.Length;
            if (room == 0)
            {
                AbortNow(ConnectionCloseReason.ReceiveLimitExceeded);
                break;
            }
            var read = data[..Math.Min(room, data.Length)];
            data = data[read.Length..];
            var presented = new byte[_unconsumed.Length + read.Length];
            _unconsumed.CopyTo(presented, 0);
            read.CopyTo(presented.AsSpan(_unconsumed.Length));
            if (!Deliver(presented) || !AfterCallback()) break;
            if (OutputEnded) break; // closed by the handler: the rest of this read is discarded
        }
        return this;
    }

    /// <summary>The peer sent <paramref name="text"/> as UTF-8 (one read).</summary>
    public FakeConnectionContext Receive(string text) => Receive(Encoding.UTF8.GetBytes(text));

    /// <summary>
    /// The peer shut down its sending side (FIN): the handler is told <see cref="IConnectionHandler.OnInputEnded"/> with
    /// the count of unconsumed bytes (by default it closes); on a connection that closed gracefully and waited for this
    /// FIN, the connection ends.
    /// </summary>
    public FakeConnectionContext EndInput()
    {
        EnsurePeerMaySend();
        _inputEnded = true;
        if (OutputEnded)
        {
            Finish(_closeReason); // the FIN the close lingered for
            return this;
        }
        if (Call(static (h, s) => h.OnInputEnded(s, s._unconsumed.Length), this)) AfterCallback();
        return this;
    }

    /// <summary>The peer reset the connection: it ends with <see cref="ConnectionCloseReason.PeerClosed"/>.</summary>
    public FakeConnectionContext Reset()
    {
        EnsureConnected();
        Finish(ConnectionCloseReason.PeerClosed);
        return this;
    }

    /// <summary>
    /// The listener's request-head timeout passed with bytes left unconsumed (an incomplete request): the handler is told
    /// <see cref="IConnectionHandler.OnRequestTimedOut"/> (it may write a last reply), then the connection closes
    /// gracefully with <see cref="ConnectionCloseReason.RequestTimeout"/> whatever the handler does.
    /// </summary>
    /// <exception cref="InvalidOperationException">Nothing is unconsumed, or the connection is closing: the runtime would not time it out.</exception>
    public FakeConnectionContext TimeOutRequest()
    {
        EnsureConnected();
        if (IsClosing || _unconsumed.Length == 0)
            throw new InvalidOperationException(IsClosing
                ? "the connection is closing: the runtime times out only an open connection's incomplete request"
                : "no bytes are unconsumed: the request-head timeout only runs while a request is incomplete");
        var unconsumed = _unconsumed.Length;
        _unconsumed = [];
        _closeReason = ConnectionCloseReason.RequestTimeout;
        if (!Call(static (h, p) => h.OnRequestTimedOut(p.Context, p.Unconsumed), (Context: this, Unconsumed: unconsumed))) return this;
        _closeRequested = true;
        AfterCallback();
        return this;
    }

    /// <summary>
    /// Another part of the program sent <paramref name="message"/> to the connection (in the runtime: told to its actor):
    /// the handler's <see cref="IConnectionHandler.OnMessage"/> gets it and what it writes is sent. Ignored once the
    /// connection ended, as by the runtime.
    /// </summary>
    public FakeConnectionContext Tell(object message)
    {
        ArgumentNullException.ThrowIfNull(message);
        EnsureConnected(allowClosed: true);
        if (IsClosed) return this;
        if (Call(static (h, p) => h.OnMessage(p.Context, p.Message), (Context: this, Message: message))) AfterCallback();
        return this;
    }

    /// <summary>Offers <paramref name="feature"/> to the handler's <see cref="GetFeature{T}"/>.</summary>
    public FakeConnectionContext SetFeature<T>(T feature) where T : class
    {
        _features[typeof(T)] = feature ?? throw new ArgumentNullException(nameof(feature));
        return this;
    }

    /// <summary>
    /// Offers the handler an <see cref="IConnectionActorFeature"/> whose <c>Self</c> is <paramref name="self"/> (a
    /// TestProbe's ref, say: what the handler gives other actors as its address reaches the probe; pass the messages on
    /// with <see cref="Tell"/>).
    /// </summary>
    public FakeConnectionContext SetActor(IActorRef self, ActorSystem system) =>
        SetFeature<IConnectionActorFeature>(new ActorFeature(self ?? throw new ArgumentNullException(nameof(self)),
            system ?? throw new ArgumentNullException(nameof(system))));

    /// <inheritdoc />
    public T? GetFeature<T>() where T : class => _features.TryGetValue(typeof(T), out var feature) ? (T)feature : null;

    /// <summary>Returns the bytes sent so far and forgets them (the next call returns only newer ones).</summary>
    public byte[] TakeWritten()
    {
        var written = Written.ToArray();
        _sent.SetLength(0);
        return written;
    }

    /// <summary><see cref="TakeWritten"/> as UTF-8 text.</summary>
    public string TakeWrittenText() => Encoding.UTF8.GetString(TakeWritten());

    // IConnectionContext: what the handler calls.

    /// <summary>Queues <paramref name="data"/>; sent after the current callback. Ignored once the connection is closing.</summary>
    public void Write(ReadOnlySpan<byte> data)
    {
        if (IsClosing || data.IsEmpty) return;
        _pending.Write(data);
    }

    /// <summary>Graceful close: what was written is sent, the sending side shut down, then the peer's FIN is waited for.</summary>
    public void Close() => _closeRequested = true;

    /// <summary>Graceful close without waiting for the peer's FIN: the connection ends once the written bytes are sent.</summary>
    public void CloseWithoutLinger()
    {
        if (!_closeRequested) _noLinger = true;
        _closeRequested = true;
    }

    /// <summary>Hard close: writes not sent yet are dropped and the connection ends with <see cref="ConnectionCloseReason.Aborted"/>.</summary>
    public void Abort() => _abortRequested = true;

    private void EnsureConnected(bool allowClosed = false)
    {
        if (!_connected) throw new InvalidOperationException("the fake connection is not connected: call Connect first");
        if (IsClosed && !allowClosed) throw new InvalidOperationException($"the connection ended ({CloseReason})");
    }

    private void EnsurePeerMaySend()
    {
        EnsureConnected();
        if (_inputEnded) throw new InvalidOperationException("the peer ended its input (EndInput) already: it sends nothing more");
    }

    private bool Deliver(byte[] presented)
    {
        int consumed;
        try
        {
            consumed = Handler!.OnReceived(this, presented);
        }
        catch (Exception e)
        {
            HandlerFailed(e);
            return false;
        }
        if (consumed < 0 || consumed > presented.Length)
        {
            HandlerFailed(new InvalidOperationException(
                $"handler {Handler.GetType().Name} returned {consumed} consumed bytes of {presented.Length} received"));
            return false;
        }
        _unconsumed = presented[consumed..];
        return true;
    }

    /// <summary>Acts on what the handler asked for in a callback, as the runtime does: abort, or send (and close). False when the connection ended.</summary>
    private bool AfterCallback()
    {
        if (IsClosed) return false;
        if (_abortRequested)
        {
            AbortNow(ConnectionCloseReason.Aborted);
            return false;
        }
        _sent.Write(_pending.GetBuffer().AsSpan(0, (int)_pending.Length));
        _pending.SetLength(0);
        if (_closeRequested && !OutputEnded) ShutdownOutput();
        return !IsClosed;
    }

    private void ShutdownOutput()
    {
        OutputEnded = true;
        _unconsumed = [];
        if (_noLinger || _inputEnded) Finish(_closeReason);
        // Otherwise the runtime lingers for the peer's FIN (EndInput), bounded by linger-timeout.
    }

    private void HandlerFailed(Exception e)
    {
        HandlerFailure ??= e;
        AbortNow(ConnectionCloseReason.HandlerFailed);
    }

    private void AbortNow(ConnectionCloseReason reason) => Finish(reason);

    private void Finish(ConnectionCloseReason reason)
    {
        if (IsClosed) return;
        IsClosed = true;
        OutputEnded = true;
        CloseReason = reason;
        _pending.SetLength(0);
        _unconsumed = [];
        if (Handler is null) return;
        try
        {
            Handler.OnClosed(this, reason);
        }
        catch (Exception e)
        {
            HandlerFailure ??= e; // the runtime logs it; the connection is gone either way
        }
    }

    /// <summary>Runs a handler callback; a throw ends this connection only. False when the connection ended.</summary>
    private bool Call<TArg>(Action<TArg> callback, TArg arg)
    {
        try
        {
            callback(arg);
            return true;
        }
        catch (Exception e)
        {
            HandlerFailed(e);
            return false;
        }
    }

    private bool Call<TArg>(Action<IConnectionHandler, TArg> callback, TArg arg) => Call(a => callback(Handler!, a), arg);

    private sealed record ActorFeature(IActorRef Self, ActorSystem System) : IConnectionActorFeature;
}
