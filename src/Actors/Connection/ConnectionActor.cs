using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using ShardRuntime.Actors.Listener;
using ShardRuntime.Runtime.Connections;
using ShardRuntime.Runtime.Sockets.Readiness;

namespace ShardRuntime.Actors.Connection;

/// <summary>
/// Owns one accepted socket and drives its handler. I/O is non-blocking: the actor reads and sends synchronously
/// (<see cref="SocketIo"/>) while the kernel has data or room, and otherwise arms the socket's registration with the
/// <see cref="ReadinessEngine"/>, which tells it (<see cref="Connection.ReceiveReady"/>, <see cref="Connection.SendReady"/>)
/// when to go on. An idle connection therefore holds no receive buffer and no pending operation: only its registration.
/// Backpressure: while more than max-pending-write-bytes wait to be sent, it stops reading; it reads again once
/// they fall to half of that. A half-close from the peer is passed to the handler; a graceful close flushes,
/// shuts down the sending side and lingers for the peer's FIN. Its own failure stops it (the shard's strategy);
/// when Akka restarts it because its shard restarted, the new instance continues from <see cref="ConnectionState"/>.
/// </summary>
internal sealed class ConnectionActor : UntypedActor
{
    /// <summary>Reads handled in one go before the actor yields to its mailbox.</summary>
    private const int ReadBatch = 8;

    private readonly ConnectionState _s;

    public ConnectionActor(ConnectionState state) => _s = state;

    private long ConnectionId => _s.ConnectionId;
    private string ListenerName => _s.ListenerName;
    private int ShardId => _s.ShardId;

    protected override void PreStart()
    {
        _s.Self = Self;
        _s.ActorSystem = Context.System;
        if (_s.Started)
        {
            Resume();
            return;
        }
        _s.Started = true;
        try
        {
            // TCP_NODELAY comes from the listening socket (Linux copies it to every connection it accepts).
            _s.Readiness = ReadinessEngine.Shared.Register(_s.Fd, _s);
        }
        catch (SocketException e)
        {
            // The peer may already be gone (ECONNRESET between accept and here), or epoll is out of room.
            Finish(ConnectionCloseReason.PeerClosed, e);
            return;
        }
        if (!CallHandler(static (_, s, _) => { s.Handler = s.Lease.CreateHandler(s); s.Handler.OnConnected(s); }, 0)) return;
        if (AfterCallback()) ReadLoop();
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Connection.ReceiveReady:
                if (!_s.ReceivePending) break; // stale: the wait it ends was already over
                _s.ReceivePending = false;
                ReadLoop(); // the receive reports the error, if that is what the socket has
                break;
            case Connection.ReadMore:
                ReadLoop();
                break;
            case Connection.SendReady:
                OnSendReady();
                break;
            case Connection.IdleCheck:
                OnIdleCheck();
                break;
            case Connection.LingerExpired:
                if (_s.OutputShut) Finish(_s.CloseReason);
                break;
            case Connection.Abort abort:
                AbortNow(abort.Reason);
                break;
            case Connection.RetireGeneration retire:
                if (!_s.Finished && _s.HandlerGeneration < retire.Current && !_s.GenerationRetired)
                {
                    _s.GenerationRetired = true;
                    _s.GenerationDeadlineAt = Environment.TickCount64 + (long)retire.DrainTimeout.TotalMilliseconds;
                    // Rare (a reload, a handover): a timer of its own, which outlives a restart of this actor.
                    _s.GenerationTimer = Context.System.Scheduler.ScheduleTellOnceCancelable(
                        retire.DrainTimeout, Self, Connection.GenerationDeadline.Instance, Self);
                }
                break;
            case Connection.GenerationDeadline:
                if (_s.Finished || _s.CloseRequested) break;
                Log.Debug("Connection {Listener}/{Shard}/{Connection} of retired handler generation {Generation}: drain deadline passed; closing",
                    ListenerName, ShardId, ConnectionId, _s.HandlerGeneration);
                _s.CloseReason = ConnectionCloseReason.DrainDeadline;
                _s.CloseRequested = true;
                Flush();
                break;
            default:
                if (_s.Finished) return;
                if (CallHandler(static (h, s, m) => h!.OnMessage(s, m!), message) && AfterCallback()) ReadLoop();
                break;
        }
    }

    protected override void PreRestart(Exception reason, object message)
    {
        // Deliberately not base.PreRestart (which would run PostStop and abort the socket): the connection lives
        // in its ConnectionState and the next instance carries on with it. Only a parent's restart restarts a
        // connection actor; its own failures stop it (see the shard's supervisor strategy).
    }

    protected override void PostRestart(Exception reason) => PreStart();

    /// <summary>
    /// Continues a connection after a restart: readiness and timers report to the same ref (the shard's sweep keeps
    /// watching idle time and linger; a retired generation's timer is the scheduler's).
    /// </summary>
    private void Resume()
    {
        if (_s.Finished)
        {
            Context.Stop(Self);
            return;
        }
        if (!_s.Sending) Flush();
        if (!_s.ReceivePending) ReadLoop();
    }

    protected override void PostStop()
    {
        // Stopped from outside (or after a failure of this actor): never leave the socket open.
        if (!_s.Finished) AbortNow(ConnectionCloseReason.Aborted, stopping: true);
    }

    /// <summary>
    /// Reads and delivers while data is there, up to a batch. Handler callbacks can lead back here (a close, a
    /// resumed reader); such a nested call returns at once and this loop, which re-checks its state every turn,
    /// goes on, so that only one receive is ever in flight.
    /// </summary>
    private void ReadLoop()
    {
        if (_s.InReadLoop) return;
        _s.InReadLoop = true;
        try
        {
            ReadBatchOnce();
        }
        finally
        {
            _s.InReadLoop = false;
            // Whatever made the loop stop (no data, a pause, the batch's end), an empty buffer goes back to the pool:
            // a waiting connection holds none, and a busy one rents once per turn, not once per read.
            ReleaseReceiveBufferIfEmpty();
        }
    }

    private void ReadBatchOnce()
    {
        for (var i = 0; i < ReadBatch; i++)
        {
            if (_s.Finished || _s.ReceivePending || _s.InputEnded || _s.ReadPaused) return;
            if (_s.Tx.Pending > _s.Settings.MaxPendingWriteBytes)
            {
                _s.ReadPaused = true; // backpressure: the reader reads again when the queue has drained to half
                return;
            }

            var rx = _s.Rx ??= ArrayPool<byte>.Shared.Rent(_s.Settings.ReceiveBufferSize);
            if (_s.RxCount == rx.Length && !GrowReceiveBuffer()) return;

            var seen = _s.Readiness!.ReadEdges;
            var n = SocketIo.Receive(_s.Fd, _s.Rx.AsSpan(_s.RxCount), out var error);
            if (error == SocketError.WouldBlock)
            {
                // Wait for data (without a buffer: see ReadLoop); data that came in meanwhile is read now.
                if (!_s.Readiness.ArmRead(seen)) continue;
                _s.ReceivePending = true;
                return;
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

            _s.BytesIn += n;
            _s.Counters.Received(n);
            _s.LastActivity = Environment.TickCount64;
            if (_s.OutputShut)
            {
                // Closing: the handler is done; discard what the peer still sends until its FIN.
                _s.RxCount = 0;
                continue;
            }
            _s.RxCount += n;
            if (!Deliver() || !AfterCallback()) return;
        }
        // Yield to other messages (and other actors on this dispatcher thread), then read on.
        if (!_s.Finished && !_s.ReceivePending && !_s.InputEnded && !_s.ReadPaused)
            _s.Self.Tell(Connection.ReadMore.Instance);
    }

    /// <summary>Gives the unconsumed bytes to the handler and keeps what it leaves. False when the connection ended.</summary>
    private bool Deliver()
    {
        var consumed = 0;
        try
        {
            consumed = _s.Handler!.OnReceived(_s, _s.Rx.AsSpan(0, _s.RxCount));
        }
        catch (Exception e)
        {
            HandlerFailed(e);
            return false;
        }
        if (consumed < 0 || consumed > _s.RxCount)
        {
            HandlerFailed(new InvalidOperationException(
                $"handler {_s.Handler.GetType().Name} returned {consumed} consumed bytes of {_s.RxCount} received"));
            return false;
        }
        _s.RxCount -= consumed;
        if (_s.RxCount > 0 && consumed > 0)
            Buffer.BlockCopy(_s.Rx!, consumed, _s.Rx!, 0, _s.RxCount);
        return true;
    }

    private bool GrowReceiveBuffer()
    {
        if (_s.RxCount >= _s.Settings.MaxReceiveBytes)
        {
            Log.Info("Connection {Listener}/{Shard}/{Connection} closed: handler left {Bytes} unconsumed bytes (max-receive-bytes {Max})",
                ListenerName, ShardId, ConnectionId, _s.RxCount, _s.Settings.MaxReceiveBytes);
            AbortNow(ConnectionCloseReason.ReceiveLimitExceeded);
            return false;
        }
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(_s.Rx!.Length * 2, _s.Settings.MaxReceiveBytes));
        Buffer.BlockCopy(_s.Rx, 0, bigger, 0, _s.RxCount);
        ArrayPool<byte>.Shared.Return(_s.Rx);
        _s.Rx = bigger;
        return true;
    }

    private void ReleaseReceiveBufferIfEmpty()
    {
        if (_s.RxCount != 0 || _s.Rx is null) return;
        ArrayPool<byte>.Shared.Return(_s.Rx);
        _s.Rx = null;
    }

    private void OnInputEnded()
    {
        _s.InputEnded = true;
        if (_s.OutputShut)
        {
            Finish(_s.CloseReason); // the FIN we lingered for
            return;
        }
        var unconsumed = _s.RxCount;
        if (CallHandler(static (h, s, n) => h!.OnInputEnded(s, n), unconsumed))
            AfterCallback();
    }

    /// <summary>Acts on what the handler asked for during a callback: abort, or flush (and close). False when the connection ended.</summary>
    private bool AfterCallback()
    {
        if (_s.Finished) return false;
        if (_s.AbortRequested)
        {
            AbortNow(ConnectionCloseReason.Aborted);
            return false;
        }
        Flush();
        return !_s.Finished;
    }

    private void Flush()
    {
        while (!_s.Sending && !_s.Finished && !_s.Tx.IsEmpty)
        {
            var head = _s.Tx.Head;
            var seen = _s.Readiness!.WriteEdges;
            var n = SocketIo.Send(_s.Fd, head.AsSpan(), out var error);
            if (error == SocketError.WouldBlock)
            {
                // The send buffer is full: wait for room (the bytes stay queued); room made meanwhile is used now.
                if (!_s.Readiness.ArmWrite(seen)) continue;
                _s.Sending = true;
                return;
            }
            if (error != SocketError.Success)
            {
                OnSocketError(error);
                return;
            }
            Sent(n);
        }
        if (_s.Finished || _s.Sending) return;

        if (_s.ReadPaused && _s.Tx.Pending <= _s.Settings.MaxPendingWriteBytes / 2)
        {
            _s.ReadPaused = false;
            ReadLoop();
            if (_s.Finished) return;
        }
        if (_s.CloseRequested && _s.Tx.IsEmpty && !_s.OutputShut)
            ShutdownOutput();
    }

    private void Sent(int n)
    {
        _s.Tx.Advance(n);
        _s.BytesOut += n;
        _s.Counters.Sent(n);
        _s.LastActivity = Environment.TickCount64;
    }

    private void OnSendReady()
    {
        if (!_s.Sending || _s.Finished) return; // stale
        _s.Sending = false;
        Flush(); // the send reports the error, if that is what the socket has
    }

    private void ShutdownOutput()
    {
        _s.OutputShut = true;
        if (_s.NoLinger)
        {
            Finish(_s.CloseReason); // close() sends the FIN after what the kernel still has to send
            return;
        }
        if (_s.Socket.ShutdownSend() != SocketError.Success)
        {
            Finish(ConnectionCloseReason.PeerClosed);
            return;
        }
        if (_s.InputEnded)
        {
            Finish(_s.CloseReason);
            return;
        }
        // Wait (bounded: the shard's sweep tells LingerExpired) for the peer's FIN so that unread bytes do not turn our
        // close into a reset.
        _s.RxCount = 0;
        Volatile.Write(ref _s.LingerDeadline, Environment.TickCount64 + (long)_s.Settings.LingerTimeout.TotalMilliseconds);
        ReadLoop();
    }

    /// <summary>
    /// The shard's sweep saw this connection idle (nothing received or sent) for the idle timeout. The first time it
    /// closes gracefully; when that close has not finished after another idle timeout (or the connection was already
    /// closing, or the peer stopped reading what we send), it aborts.
    /// </summary>
    private void OnIdleCheck()
    {
        if (_s.Finished) return;
        var now = Environment.TickCount64;
        var idle = TimeSpan.FromMilliseconds(now - Math.Max(_s.LastActivity, _s.IdleClosingSince));
        if (idle < _s.Settings.IdleTimeout) return; // there was activity since the sweep looked
        Log.Debug("Connection {Listener}/{Shard}/{Connection} idle for {Idle}; closing", ListenerName, ShardId, ConnectionId, idle);
        if (_s.IdleClosingSince != 0 || _s.CloseRequested || !_s.Tx.IsEmpty)
        {
            // Already closing, or the peer stopped reading what we send: nothing moves, so give up.
            AbortNow(ConnectionCloseReason.IdleTimeout);
            return;
        }
        _s.CloseReason = ConnectionCloseReason.IdleTimeout;
        _s.CloseRequested = true;
        Volatile.Write(ref _s.IdleClosingSince, now);
        Flush();
    }

    private void OnSocketError(SocketError error)
    {
        if (_s.Finished) return;
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
            ListenerName, ShardId, ConnectionId, _s.Handler?.GetType().Name ?? _s.Lease.Generation.Name, e.Message);
        AbortNow(ConnectionCloseReason.HandlerFailed);
    }

    private void AbortNow(ConnectionCloseReason reason, bool stopping = false)
    {
        if (_s.Finished) return;
        _s.Socket.SetAbortiveClose(); // close() then sends RST and drops unsent data
        Finish(reason, stopping: stopping);
    }

    private void Finish(ConnectionCloseReason reason, Exception? error = null, bool stopping = false)
    {
        if (_s.Finished) return;
        Volatile.Write(ref _s.Finished, true);
        _s.Readiness?.ReleaseForClose(); // the close takes it out of epoll; its slot is freed before the number is reused
        _s.GenerationTimer?.Cancel();
        _s.Socket.Close();
        _s.Tx.Clear();
        if (_s.Rx is not null)
        {
            ArrayPool<byte>.Shared.Return(_s.Rx);
            _s.Rx = null;
        }
        _s.RxCount = 0;
        if (_s.Handler is not null)
        {
            try
            {
                _s.Handler.OnClosed(_s, reason);
            }
            catch (Exception e)
            {
                Log.Warning("Connection {Listener}/{Shard}/{Connection} handler OnClosed threw: {Error}", ListenerName, ShardId, ConnectionId, e.Message);
            }
        }
        _s.Counters.ConnectionClosed();
        // A retiring shard may be done now. (Its Retiring is set before it counts its connections, and ours was
        // uncounted above, so one of the two sees the other: no message per connection while the shard serves.)
        if (_s.Shard.Retiring) Context.Parent.Tell(Listener.Listener.ConnectionEnded.Instance);
        _s.Budget.Release();
        _s.Lease.Dispose(); // the last connection of a retired generation lets it unload
        if (Log.IsDebugEnabled) // every connection passes here: no arguments boxed unless they are logged
            Log.Debug("Connection {Listener}/{Shard}/{Connection} closed ({Reason}): {BytesIn} bytes in, {BytesOut} bytes out",
                ListenerName, ShardId, ConnectionId, reason, _s.BytesIn, _s.BytesOut);
        if (error is not null)
            Log.Debug("Connection {Listener}/{Shard}/{Connection} ended early: {Error}", ListenerName, ShardId, ConnectionId, error.Message);
        if (!stopping) Context.Stop(Self);
    }

    /// <summary>Runs a handler callback; a throw closes this connection only. False when the connection ended.</summary>
    private bool CallHandler<TArg>(Action<IConnectionHandler?, ConnectionState, TArg> callback, TArg arg)
    {
        try
        {
            callback(_s.Handler, _s, arg);
            return true;
        }
        catch (Exception e)
        {
            HandlerFailed(e);
            return false;
        }
    }

    /// <summary>The shard's logger (made once per shard, not per connection); messages name the connection.</summary>
    private ILoggingAdapter Log => _s.Log;
}
