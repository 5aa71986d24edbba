using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using ShardRuntime.Actors.Listener;
using ShardRuntime.Runtime.Connections;

namespace ShardRuntime.Actors.Connection;

/// <summary>
/// Owns one accepted socket and drives its handler. I/O is non-blocking: the actor reads and sends synchronously
/// while the kernel has data or room, and otherwise waits with a zero-byte receive (so an idle connection holds no
/// receive buffer) or an async send, whose completion comes back to the actor as a message.
/// Backpressure: while more than max-pending-write-bytes wait to be sent, it stops reading; it reads again once
/// they fall to half of that. A half-close from the peer is passed to the handler; a graceful close flushes,
/// shuts down the sending side and lingers for the peer's FIN. Stopped (never restarted) on failure.
/// </summary>
internal sealed class ConnectionActor : UntypedActor, IConnectionContext, IConnectionActorFeature, IWithTimers
{
    /// <summary>Reads handled in one go before the actor yields to its mailbox.</summary>
    private const int ReadBatch = 8;

    private readonly Socket _socket;
    private readonly ConnectionSettings _settings;
    private readonly IConnectionHandlerFactory _factory;
    private readonly ShardCounters _counters;
    private readonly SocketAsyncEventArgs _receiveArgs = new();
    private readonly SocketAsyncEventArgs _sendArgs = new();
    private readonly WriteQueue _tx = new();

    private IActorRef _self = ActorRefs.Nobody;
    private IConnectionHandler? _handler;
    private byte[]? _rx;
    private int _rxCount;
    private long _bytesIn;
    private long _bytesOut;
    private long _lastActivity;

    private bool _receivePending;
    private bool _sending;
    private byte[]? _sendingBuffer;
    private bool _readPaused;
    private bool _inputEnded;
    private bool _closeRequested;
    private bool _abortRequested;
    private bool _outputShut;
    private bool _finished;
    private ConnectionCloseReason _closeReason = ConnectionCloseReason.Closed;

    public ConnectionActor(
        Socket socket,
        long id,
        int shardId,
        ConnectionSettings settings,
        IConnectionHandlerFactory factory,
        ShardCounters counters)
    {
        _socket = socket;
        ConnectionId = id;
        ShardId = shardId;
        _settings = settings;
        _factory = factory;
        _counters = counters;
        _receiveArgs.SetBuffer(Array.Empty<byte>(), 0, 0);
        _receiveArgs.Completed += (_, _) => _self.Tell(Connection.ReceiveReady.Instance);
        _sendArgs.Completed += (_, _) => _self.Tell(Connection.SendCompleted.Instance);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    // IConnectionContext
    public long ConnectionId { get; }
    public string ListenerName => _settings.Listener;
    public int ShardId { get; }
    public EndPoint? RemoteEndPoint => _socket.RemoteEndPoint;
    public EndPoint? LocalEndPoint => _socket.LocalEndPoint;
    public bool IsClosing => _closeRequested || _abortRequested || _finished;

    // IConnectionActorFeature
    IActorRef IConnectionActorFeature.Self => _self;
    ActorSystem IConnectionActorFeature.System => Context.System;

    public T? GetFeature<T>() where T : class => typeof(T) == typeof(IConnectionActorFeature) ? (T)(object)this : null;

    public void Write(ReadOnlySpan<byte> data)
    {
        if (IsClosing || data.IsEmpty) return;
        _tx.Append(data);
    }

    public void Close() => _closeRequested = true;

    public void Abort() => _abortRequested = true;

    protected override void PreStart()
    {
        _self = Self;
        _lastActivity = Environment.TickCount64;
        try
        {
            _socket.Blocking = false;
            _socket.NoDelay = true;
        }
        catch (SocketException e)
        {
            // The peer may already be gone (ECONNRESET between accept and here).
            Finish(ConnectionCloseReason.PeerClosed, e);
            return;
        }
        if (!CallHandler(static (h, c, _) => { c._handler = c._factory.Create(c); c._handler.OnConnected(c); }, 0)) return;
        Timers.StartSingleTimer("idle", Connection.IdleCheck.Instance, _settings.IdleTimeout);
        if (AfterCallback()) ReadLoop();
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Connection.ReceiveReady:
                _receivePending = false;
                if (_receiveArgs.SocketError != SocketError.Success)
                    OnSocketError(_receiveArgs.SocketError);
                else
                    ReadLoop();
                break;
            case Connection.SendCompleted:
                OnSendCompleted();
                break;
            case Connection.IdleCheck:
                OnIdleCheck();
                break;
            case Connection.LingerExpired:
                Finish(_closeReason);
                break;
            case Connection.Abort abort:
                AbortNow(abort.Reason);
                break;
            default:
                if (_finished) return;
                if (CallHandler(static (h, c, m) => h!.OnMessage(c, m!), message) && AfterCallback()) ReadLoop();
                break;
        }
    }

    protected override void PostStop()
    {
        // Stopped from outside (or after a failure of this actor): never leave the socket open.
        if (!_finished) AbortNow(ConnectionCloseReason.Aborted, stopping: true);
    }

    private void ReadLoop()
    {
        for (var i = 0; i < ReadBatch; i++)
        {
            if (_finished || _receivePending || _inputEnded) return;
            if (_tx.Pending > _settings.MaxPendingWriteBytes)
            {
                _readPaused = true; // backpressure: the reader reads again when the queue has drained to half
                return;
            }

            var rx = _rx ??= ArrayPool<byte>.Shared.Rent(_settings.ReceiveBufferSize);
            if (_rxCount == rx.Length && !GrowReceiveBuffer()) return;

            var n = _socket.Receive(_rx, _rxCount, _rx.Length - _rxCount, SocketFlags.None, out var error);
            if (error == SocketError.WouldBlock)
            {
                ReleaseReceiveBufferIfEmpty();
                // Wait for data without holding a buffer.
                _receivePending = true;
                if (_socket.ReceiveAsync(_receiveArgs)) return;
                _receivePending = false;
                if (_receiveArgs.SocketError != SocketError.Success)
                {
                    OnSocketError(_receiveArgs.SocketError);
                    return;
                }
                continue;
            }
            if (error != SocketError.Success)
            {
                OnSocketError(error);
                return;
            }
            if (n == 0)
            {
                OnInputEnded();
                return;
            }

            _bytesIn += n;
            _lastActivity = Environment.TickCount64;
            if (_outputShut)
            {
                // Closing: the handler is done; discard what the peer still sends until its FIN.
                _rxCount = 0;
                continue;
            }
            _rxCount += n;
            if (!Deliver() || !AfterCallback()) return;
        }
        // Yield to other messages (and other actors on this dispatcher thread), then read on.
        _receivePending = true;
        _self.Tell(Connection.ReceiveReady.Instance);
        _receiveArgs.SocketError = SocketError.Success;
    }

    /// <summary>Gives the unconsumed bytes to the handler and keeps what it leaves. False when the connection ended.</summary>
    private bool Deliver()
    {
        var consumed = 0;
        try
        {
            consumed = _handler!.OnReceived(this, _rx.AsSpan(0, _rxCount));
        }
        catch (Exception e)
        {
            HandlerFailed(e);
            return false;
        }
        if (consumed < 0 || consumed > _rxCount)
        {
            HandlerFailed(new InvalidOperationException(
                $"handler {_handler.GetType().Name} returned {consumed} consumed bytes of {_rxCount} received"));
            return false;
        }
        _rxCount -= consumed;
        if (_rxCount > 0 && consumed > 0)
            Buffer.BlockCopy(_rx!, consumed, _rx!, 0, _rxCount);
        ReleaseReceiveBufferIfEmpty();
        return true;
    }

    private bool GrowReceiveBuffer()
    {
        if (_rxCount >= _settings.MaxReceiveBytes)
        {
            Log.Info("Connection {Listener}/{Shard}/{Connection} closed: handler left {Bytes} unconsumed bytes (max-receive-bytes {Max})",
                ListenerName, ShardId, ConnectionId, _rxCount, _settings.MaxReceiveBytes);
            AbortNow(ConnectionCloseReason.ReceiveLimitExceeded);
            return false;
        }
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(_rx!.Length * 2, _settings.MaxReceiveBytes));
        Buffer.BlockCopy(_rx, 0, bigger, 0, _rxCount);
        ArrayPool<byte>.Shared.Return(_rx);
        _rx = bigger;
        return true;
    }

    private void ReleaseReceiveBufferIfEmpty()
    {
        if (_rxCount != 0 || _rx is null) return;
        ArrayPool<byte>.Shared.Return(_rx);
        _rx = null;
    }

    private void OnInputEnded()
    {
        _inputEnded = true;
        if (_outputShut)
        {
            Finish(_closeReason); // the FIN we lingered for
            return;
        }
        var unconsumed = _rxCount;
        if (CallHandler(static (h, c, n) => h!.OnInputEnded(c, n), unconsumed))
            AfterCallback();
    }

    /// <summary>Acts on what the handler asked for during a callback: abort, or flush (and close). False when the connection ended.</summary>
    private bool AfterCallback()
    {
        if (_finished) return false;
        if (_abortRequested)
        {
            AbortNow(ConnectionCloseReason.Aborted);
            return false;
        }
        Flush();
        return !_finished;
    }

    private void Flush()
    {
        while (!_sending && !_finished && !_tx.IsEmpty)
        {
            var head = _tx.Head;
            var n = _socket.Send(head.Array!, head.Offset, head.Count, SocketFlags.None, out var error);
            if (error == SocketError.WouldBlock)
            {
                _sending = true;
                _sendingBuffer = head.Array;
                _sendArgs.SetBuffer(head.Array, head.Offset, head.Count);
                if (_socket.SendAsync(_sendArgs)) return;
                // Completed synchronously after all.
                _sending = false;
                _sendingBuffer = null;
                if (_sendArgs.SocketError != SocketError.Success)
                {
                    OnSocketError(_sendArgs.SocketError);
                    return;
                }
                n = _sendArgs.BytesTransferred;
            }
            else if (error != SocketError.Success)
            {
                OnSocketError(error);
                return;
            }
            Sent(n);
        }
        if (_finished || _sending) return;

        if (_readPaused && _tx.Pending <= _settings.MaxPendingWriteBytes / 2)
        {
            _readPaused = false;
            ReadLoop();
            if (_finished) return;
        }
        if (_closeRequested && _tx.IsEmpty && !_outputShut)
            ShutdownOutput();
    }

    private void Sent(int n)
    {
        _tx.Advance(n);
        _bytesOut += n;
        _lastActivity = Environment.TickCount64;
    }

    private void OnSendCompleted()
    {
        _sending = false;
        _sendingBuffer = null;
        if (_finished) return;
        if (_sendArgs.SocketError != SocketError.Success)
        {
            OnSocketError(_sendArgs.SocketError);
            return;
        }
        Sent(_sendArgs.BytesTransferred);
        Flush();
    }

    private void ShutdownOutput()
    {
        _outputShut = true;
        try
        {
            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            Finish(ConnectionCloseReason.PeerClosed);
            return;
        }
        if (_inputEnded)
        {
            Finish(_closeReason);
            return;
        }
        // Wait (bounded) for the peer's FIN so that unread bytes do not turn our close into a reset.
        _rxCount = 0;
        Timers.StartSingleTimer("linger", Connection.LingerExpired.Instance, _settings.LingerTimeout);
        ReadLoop();
    }

    private void OnIdleCheck()
    {
        if (_finished) return;
        var idle = TimeSpan.FromMilliseconds(Environment.TickCount64 - _lastActivity);
        if (idle < _settings.IdleTimeout)
        {
            Timers.StartSingleTimer("idle", Connection.IdleCheck.Instance, _settings.IdleTimeout - idle);
            return;
        }
        Log.Debug("Connection {Listener}/{Shard}/{Connection} idle for {Idle}; closing", ListenerName, ShardId, ConnectionId, idle);
        if (_closeRequested || !_tx.IsEmpty)
        {
            // Already closing, or the peer stopped reading what we send: nothing moves, so give up.
            AbortNow(ConnectionCloseReason.IdleTimeout);
            return;
        }
        _closeReason = ConnectionCloseReason.IdleTimeout;
        _closeRequested = true;
        Timers.StartSingleTimer("idle", Connection.IdleCheck.Instance, _settings.IdleTimeout);
        Flush();
    }

    private void OnSocketError(SocketError error)
    {
        if (_finished) return;
        switch (error)
        {
            case SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown
                or SocketError.OperationAborted or SocketError.Disconnecting:
                Finish(ConnectionCloseReason.PeerClosed);
                break;
            default:
                Log.Debug("Connection {Listener}/{Shard}/{Connection} socket error {Error}", ListenerName, ShardId, ConnectionId, error);
                AbortNow(ConnectionCloseReason.SocketError);
                break;
        }
    }

    private void HandlerFailed(Exception e)
    {
        Log.Warning("Connection {Listener}/{Shard}/{Connection} handler {Handler} failed: {Error}; closing this connection only",
            ListenerName, ShardId, ConnectionId, _handler?.GetType().Name ?? _factory.Name, e.Message);
        AbortNow(ConnectionCloseReason.HandlerFailed);
    }

    private void AbortNow(ConnectionCloseReason reason, bool stopping = false)
    {
        if (_finished) return;
        try
        {
            _socket.LingerState = new LingerOption(true, 0); // close() then sends RST and drops unsent data
        }
        catch (Exception)
        {
            // Socket already gone.
        }
        Finish(reason, stopping: stopping);
    }

    private void Finish(ConnectionCloseReason reason, Exception? error = null, bool stopping = false)
    {
        if (_finished) return;
        _finished = true;
        _socket.Dispose();
        _tx.Clear(keep: _sendingBuffer);
        if (_rx is not null)
        {
            ArrayPool<byte>.Shared.Return(_rx);
            _rx = null;
        }
        _rxCount = 0;
        if (_handler is not null)
        {
            try
            {
                _handler.OnClosed(this, reason);
            }
            catch (Exception e)
            {
                Log.Warning("Connection {Listener}/{Shard}/{Connection} handler OnClosed threw: {Error}", ListenerName, ShardId, ConnectionId, e.Message);
            }
        }
        _counters.ConnectionClosed(_bytesIn, _bytesOut);
        if (error is not null)
            Log.Debug("Connection {Listener}/{Shard}/{Connection} ended early: {Error}", ListenerName, ShardId, ConnectionId, error.Message);
        if (!_receivePending) _receiveArgs.Dispose();
        if (!_sending) _sendArgs.Dispose();
        if (!stopping) Context.Stop(Self);
    }

    /// <summary>Runs a handler callback; a throw closes this connection only. False when the connection ended.</summary>
    private bool CallHandler<TArg>(Action<IConnectionHandler?, ConnectionActor, TArg> callback, TArg arg)
    {
        try
        {
            callback(_handler, this, arg);
            return true;
        }
        catch (Exception e)
        {
            HandlerFailed(e);
            return false;
        }
    }

    private ILoggingAdapter Log => Context.GetLogger();
}
