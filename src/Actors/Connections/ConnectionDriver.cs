using System.Buffers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Akka.Actor;
using Akka.Event;
using ShardRuntime.Runtime.Connections;
using ShardRuntime.Runtime.Sockets.Readiness;

namespace ShardRuntime.Actors.Connections;

/// <summary>
/// The steps of a connection: reading and delivering to the handler, flushing, closing. They work on the
/// <see cref="ConnectionState"/> alone and are run by one thread at a time: the shard, for the connection's first turn
/// (<see cref="FirstTurn"/>) and while the connection waits for its first bytes, then the connection's own actor once it
/// has adopted the connection (<see cref="ConnectionState.Adopted"/>).
/// <para>
/// In the shard, where the actor would wait for the kernel the turn stops instead, with
/// <see cref="ConnectionState.ReceivePending"/> and <see cref="ConnectionState.Sending"/> false, and the actor that adopts
/// the connection tries again; only a connection that has received nothing yet (or lingers for the peer's FIN) waits in
/// the shard, whose input wakes the shard (<see cref="WaitsInShard"/>). A connection finished in the shard (the request,
/// the reply and a close the peer asked for, as in HTTP <c>Connection: close</c>) never gets an actor at all: no actor
/// cell, no system message, and no thread-pool hop besides the shard's own turns.
/// </para>
/// </summary>
internal static class ConnectionDriver
{
    /// <summary>Reads handled in one go before the connection yields (the actor to its loop, the first turn to the actor).</summary>
    private const int ReadBatch = 8;

    /// <summary>
    /// Bytes read (and handed to the handler) in one go before the connection yields, whatever the receive buffer's size:
    /// a peer that pipelines without pause gets its answers in turns of this much, between other connections' turns.
    /// </summary>
    private const int ReadBudget = 4 * 1024;

    /// <summary>
    /// The shard's turn for a connection it has just accepted: the handler is made and told it is connected, and what
    /// the peer sent already is read and answered. Afterwards the connection is either finished or must be adopted by
    /// an actor (<see cref="Connection.Adopt"/>), which goes on from the same state.
    /// </summary>
    public static void FirstTurn(ConnectionState s)
    {
        if (!CallHandler(s, static (_, s, _) => { s.Handler = s.Lease.CreateHandler(s); s.Handler.OnConnected(s); }, 0)) return;
        if (AfterCallback(s)) ReadLoop(s);
    }

    /// <summary>
    /// Continues a connection in its (new or restarted) actor: a finished one stops, otherwise what was left (bytes to
    /// send, reading) goes on. Readiness and the shard's sweep report to the same actor ref.
    /// </summary>
    public static void Resume(ConnectionState s, IActorContext actor)
    {
        if (s.Finished)
        {
            actor.Stop(actor.Self);
            return;
        }
        if (!s.Sending) Flush(s);
        if (!s.ReceivePending) ReadLoop(s);
    }

    /// <summary>
    /// Reads and delivers while data is there, up to a batch. Handler callbacks can lead back here (a close, a
    /// resumed reader); such a nested call returns at once and this loop, which re-checks its state every turn,
    /// goes on, so that only one receive is ever in flight.
    /// </summary>
    public static void ReadLoop(ConnectionState s)
    {
        if (s.InReadLoop) return;
        s.InReadLoop = true;
        try
        {
            ReadBatchOnce(s);
        }
        finally
        {
            s.InReadLoop = false;
            // Whatever made the loop stop (no data, a pause, the batch's end), an empty buffer goes back to the pool:
            // a waiting connection holds none, and a busy one rents once per turn, not once per read.
            ReleaseReceiveBufferIfEmpty(s);
        }
    }

    private static void ReadBatchOnce(ConnectionState s)
    {
        var budget = ReadBudget;
        for (var i = 0; i < ReadBatch && budget > 0; i++)
            if (!ReadOnce(s, ref budget)) return;
        // Yield, then read on. Not by telling the actor itself (its mailbox run would take that message in the same go,
        // and the loop would run nothing else meanwhile) but through the back of its loop's queue: every connection with
        // work on the loop, and the loop's next look at its sockets, come first. (A turn in the shard that got this far
        // leaves the rest to the actor that adopts the connection.)
        if (s.Adopted && !s.Finished && !s.ReceivePending && !s.InputEnded && !s.ReadPaused)
            s.Shard.Loop.Post(ReadOn, s);
    }

    /// <summary>
    /// One receive of the batch and its delivery; what was read is taken off <paramref name="budget"/>. False when the
    /// batch stops here (the connection ended, paused, waits for input, or is left to its actor).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool ReadOnce(ConnectionState s, ref int budget)
    {
        if (!MayRead(s)) return false;
        var rx = s.Rx ??= ArrayPool<byte>.Shared.Rent(s.Settings.ReceiveBufferSize);
        if (s.RxCount == rx.Length && !GrowReceiveBuffer(s)) return false;

        var readiness = s.Readiness;
        var seen = readiness?.ReadEdges ?? 0;
        var n = SocketIo.Receive(s.Fd, s.Rx.AsSpan(s.RxCount), out var error);
        if (error == SocketError.WouldBlock) return AwaitInput(s, readiness, seen);
        if (error != SocketError.Success)
        {
            OnSocketError(s, error);
            return false;
        }
        if (n == 0)
        {
            OnInputEnded(s);
            return false;
        }

        budget -= n;
        return Received(s, n);
    }

    /// <summary>Whether the connection reads now: not when it is finished, waits for input, has ended input or is paused; a send queue over its limit pauses it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool MayRead(ConnectionState s)
    {
        if (s.Finished || s.ReceivePending || s.InputEnded || s.ReadPaused) return false;
        if (s.Tx.Pending > s.Settings.MaxPendingWriteBytes)
        {
            s.ReadPaused = true; // backpressure: the reader reads again when the queue has drained to half
            return false;
        }
        return true;
    }

    /// <summary>
    /// The socket had nothing to read: arms the read readiness (registering first in the shard, when the connection waits
    /// there). True when input came in since <paramref name="seen"/>, so the batch reads again.
    /// </summary>
    private static bool AwaitInput(ConnectionState s, ReadinessRegistration? readiness, int seen)
    {
        if (!s.Adopted)
        {
            // In the shard: a connection that has not sent its first bytes yet (or whose close waits for the
            // peer's FIN) waits there too; any other is left to the actor that adopts it, which reads again.
            if (!WaitsInShard(s)) return false;
            // (A new registration counts edges from 0: input since the receive above is an edge of it.)
            readiness ??= Register(s);
            if (readiness is null) return false;
        }
        // Wait for data (without a buffer: see ReadLoop); data that came in meanwhile is read now.
        if (!readiness!.ArmRead(seen)) return true;
        s.ReceivePending = true;
        return false;
    }

    /// <summary>Counts <paramref name="n"/> received bytes and hands them to the handler (a closing connection discards them). False when the batch stops.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Received(ConnectionState s, int n)
    {
        s.BytesIn += n;
        s.Counters.Received(n);
        s.LastActivity = Environment.TickCount64;
        if (s.OutputShut)
        {
            // Closing: the handler is done; discard what the peer still sends until its FIN.
            s.RxCount = 0;
            return true;
        }
        s.RxCount += n;
        return Deliver(s) && AfterCallback(s);
    }

    /// <summary>A yielded connection's turn at the back of its loop's queue: its actor reads on (<see cref="Connection.ReadMore"/>).</summary>
    private static readonly Action<object?> ReadOn = static state =>
    {
        var s = (ConnectionState)state!;
        if (!Volatile.Read(ref s.Finished)) s.Self.Tell(Connection.ReadMore.Instance);
    };

    /// <summary>
    /// Whether a connection in its shard waits there for input: only while the shard holds it alone (the handler has not
    /// asked for its actor), has nothing left to send (the shard never waits for send room: a greeting larger than the
    /// send buffer goes on in the actor) and has either received nothing yet or lingers for the peer's FIN after its
    /// close. A client that connects and asks one question therefore never costs an actor, even when its question comes
    /// after the accept; a conversation goes to an actor of its own once it has begun.
    /// </summary>
    private static bool WaitsInShard(ConnectionState s) =>
        !s.HasActor && s.Tx.IsEmpty && (s.BytesIn == 0 || s.OutputShut);

    /// <summary>Registers the socket with the readiness engine (<see cref="ConnectionReadiness"/> is told of input). Null when that failed and the connection ended.</summary>
    public static ReadinessRegistration? Register(ConnectionState s)
    {
        try
        {
            return s.Readiness = s.Shard.Loop.Register(s.Fd, ConnectionReadiness.Instance, s);
        }
        catch (SocketException e)
        {
            // The peer may already be gone (ECONNRESET between accept and here), or epoll is out of room.
            Finish(s, ConnectionCloseReason.PeerClosed, e);
            return null;
        }
    }

    /// <summary>Gives the unconsumed bytes to the handler and keeps what it leaves. False when the connection ended.</summary>
    private static bool Deliver(ConnectionState s)
    {
        var consumed = 0;
        try
        {
            consumed = s.Handler!.OnReceived(s, s.Rx.AsSpan(0, s.RxCount));
        }
        catch (Exception e)
        {
            HandlerFailed(s, e);
            return false;
        }
        if (consumed < 0 || consumed > s.RxCount)
        {
            HandlerFailed(s, new InvalidOperationException(
                $"handler {s.Handler.GetType().Name} returned {consumed} consumed bytes of {s.RxCount} received"));
            return false;
        }
        s.RxCount -= consumed;
        if (s.RxCount > 0 && consumed > 0)
            Buffer.BlockCopy(s.Rx!, consumed, s.Rx!, 0, s.RxCount);
        // The request-head deadline runs from the first byte of a request left incomplete; a request completed (bytes
        // consumed) starts it again for the next, and nothing left stops it.
        if (s.RxCount == 0)
        {
            if (s.IncompleteSince != 0) Volatile.Write(ref s.IncompleteSince, 0);
        }
        else if (consumed > 0 || s.IncompleteSince == 0)
        {
            Volatile.Write(ref s.IncompleteSince, s.LastActivity);
        }
        return true;
    }

    private static bool GrowReceiveBuffer(ConnectionState s)
    {
        if (s.RxCount >= s.Settings.MaxReceiveBytes)
        {
            s.Log.Info("Connection {Listener}/{Shard}/{Connection} closed: handler left {Bytes} unconsumed bytes (max-receive-bytes {Max})",
                s.ListenerName, s.ShardId, s.ConnectionId, s.RxCount, s.Settings.MaxReceiveBytes);
            AbortNow(s, ConnectionCloseReason.ReceiveLimitExceeded);
            return false;
        }
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(s.Rx!.Length * 2, s.Settings.MaxReceiveBytes));
        Buffer.BlockCopy(s.Rx, 0, bigger, 0, s.RxCount);
        ArrayPool<byte>.Shared.Return(s.Rx);
        s.Rx = bigger;
        return true;
    }

    private static void ReleaseReceiveBufferIfEmpty(ConnectionState s)
    {
        if (s.RxCount != 0 || s.Rx is null) return;
        ArrayPool<byte>.Shared.Return(s.Rx);
        s.Rx = null;
    }

    private static void OnInputEnded(ConnectionState s)
    {
        s.InputEnded = true;
        if (s.OutputShut)
        {
            Finish(s, s.CloseReason); // the FIN we lingered for
            return;
        }
        var unconsumed = s.RxCount;
        if (CallHandler(s, static (h, s, n) => h!.OnInputEnded(s, n), unconsumed))
            AfterCallback(s);
    }

    /// <summary>Acts on what the handler asked for during a callback: abort, or flush (and close). False when the connection ended.</summary>
    public static bool AfterCallback(ConnectionState s)
    {
        if (s.Finished) return false;
        if (s.AbortRequested)
        {
            AbortNow(s, ConnectionCloseReason.Aborted);
            return false;
        }
        Flush(s);
        return !s.Finished;
    }

    public static void Flush(ConnectionState s)
    {
        while (!s.Sending && !s.Finished && !s.Tx.IsEmpty)
        {
            var head = s.Tx.Head;
            var readiness = s.Readiness;
            var seen = readiness?.WriteEdges ?? 0;
            var n = SocketIo.Send(s.Fd, head.AsSpan(), out var error);
            if (error == SocketError.WouldBlock)
            {
                // In the shard the turn ends here: the adopting actor sends again (and waits for room if need be).
                if (!s.Adopted || readiness is null) return;
                // The send buffer is full: wait for room (the bytes stay queued); room made meanwhile is used now.
                if (!readiness.ArmWrite(seen)) continue;
                s.Sending = true;
                return;
            }
            if (error != SocketError.Success)
            {
                OnSocketError(s, error);
                return;
            }
            Sent(s, n);
        }
        if (s.Finished || s.Sending) return;

        if (s.ReadPaused && s.Tx.Pending <= s.Settings.MaxPendingWriteBytes / 2)
        {
            s.ReadPaused = false;
            ReadLoop(s);
            if (s.Finished) return;
        }
        if (s.CloseRequested && s.Tx.IsEmpty && !s.OutputShut)
            ShutdownOutput(s);
    }

    private static void Sent(ConnectionState s, int n)
    {
        s.Tx.Advance(n);
        s.BytesOut += n;
        s.Counters.Sent(n);
        s.LastActivity = Environment.TickCount64;
    }

    public static void OnSendReady(ConnectionState s)
    {
        if (!s.Sending || s.Finished) return; // stale
        s.Sending = false;
        Flush(s); // the send reports the error, if that is what the socket has
    }

    private static void ShutdownOutput(ConnectionState s)
    {
        s.OutputShut = true;
        if (s.NoLinger)
        {
            Finish(s, s.CloseReason); // close() sends the FIN after what the kernel still has to send
            return;
        }
        if (s.Socket.ShutdownSend() != SocketError.Success)
        {
            Finish(s, ConnectionCloseReason.PeerClosed);
            return;
        }
        if (s.InputEnded)
        {
            Finish(s, s.CloseReason);
            return;
        }
        // Wait (bounded: the shard's sweep tells LingerExpired) for the peer's FIN so that unread bytes do not turn our
        // close into a reset.
        s.RxCount = 0;
        Volatile.Write(ref s.LingerDeadline, Environment.TickCount64 + (long)s.Settings.LingerTimeout.TotalMilliseconds);
        ReadLoop(s);
    }

    /// <summary>
    /// Whether a request has stayed incomplete (bytes left unconsumed, none completed since) for the request-head timeout
    /// at <paramref name="now"/> (Environment.TickCount64). Read by the shard's sweep too, from its own thread.
    /// </summary>
    public static bool RequestLate(ConnectionState s, long now)
    {
        var since = Volatile.Read(ref s.IncompleteSince);
        return since != 0 && now - since >= (long)s.Settings.RequestHeadTimeout.TotalMilliseconds;
    }

    /// <summary>
    /// The shard's sweep saw a deadline of this connection pass: a request incomplete for the request-head timeout (the
    /// handler may answer, then the connection closes gracefully), or the connection idle (nothing received or sent) for
    /// the idle timeout. An idle connection is closed gracefully the first time; when that close has not finished after
    /// another idle timeout (or the connection was already closing, or the peer stopped reading what we send), it aborts.
    /// </summary>
    public static void OnDeadlineCheck(ConnectionState s)
    {
        if (s.Finished) return;
        var now = Environment.TickCount64;
        if (!s.CloseRequested && !s.OutputShut && RequestLate(s, now))
        {
            OnRequestTimedOut(s, now);
            return;
        }
        var idle = TimeSpan.FromMilliseconds(now - Math.Max(s.LastActivity, s.IdleClosingSince));
        if (idle < s.Settings.IdleTimeout) return; // there was activity since the sweep looked
        s.Log.Debug("Connection {Listener}/{Shard}/{Connection} idle for {Idle}; closing", s.ListenerName, s.ShardId, s.ConnectionId, idle);
        if (s.IdleClosingSince != 0 || s.CloseRequested || !s.Tx.IsEmpty)
        {
            // Already closing, or the peer stopped reading what we send: nothing moves, so give up.
            AbortNow(s, ConnectionCloseReason.IdleTimeout);
            return;
        }
        s.CloseReason = ConnectionCloseReason.IdleTimeout;
        s.CloseRequested = true;
        Volatile.Write(ref s.IdleClosingSince, now);
        Flush(s);
    }

    private static void OnRequestTimedOut(ConnectionState s, long now)
    {
        var unconsumed = s.RxCount;
        s.Log.Debug("Connection {Listener}/{Shard}/{Connection}: request incomplete for {Elapsed} ms ({Bytes} bytes; request-head-timeout {Timeout}); closing",
            s.ListenerName, s.ShardId, s.ConnectionId, now - s.IncompleteSince, unconsumed, s.Settings.RequestHeadTimeout);
        s.RxCount = 0; // what the peer sends from now on is discarded (OutputShut) or refused by the closing handler
        Volatile.Write(ref s.IncompleteSince, 0);
        s.CloseReason = ConnectionCloseReason.RequestTimeout;
        if (!CallHandler(s, static (h, s, n) => h!.OnRequestTimedOut(s, n), unconsumed)) return;
        s.CloseRequested = true;
        AfterCallback(s); // sends the handler's last reply, then shuts the sending side down
    }

    private static void OnSocketError(ConnectionState s, SocketError error)
    {
        if (s.Finished) return;
        switch (error)
        {
            case SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown
                or SocketError.OperationAborted or SocketError.Disconnecting:
                Finish(s, ConnectionCloseReason.PeerClosed);
                break;
            default:
                s.Log.Debug("Connection {Listener}/{Shard}/{Connection} socket error {Error}", s.ListenerName, s.ShardId, s.ConnectionId, error);
                AbortNow(s, ConnectionCloseReason.SocketError);
                break;
        }
    }

    private static void HandlerFailed(ConnectionState s, Exception e)
    {
        s.Log.Warning("Connection {Listener}/{Shard}/{Connection} handler {Handler} failed: {Error}; closing this connection only",
            s.ListenerName, s.ShardId, s.ConnectionId, s.Handler?.GetType().Name ?? s.Lease.Generation.Name, e.Message);
        AbortNow(s, ConnectionCloseReason.HandlerFailed);
    }

    public static void AbortNow(ConnectionState s, ConnectionCloseReason reason, bool stopping = false)
    {
        if (s.Finished) return;
        s.Socket.SetAbortiveClose(); // close() then sends RST and drops unsent data
        Finish(s, reason, stopping: stopping);
    }

    /// <summary>
    /// Closes the socket, tells the handler and gives back what the connection held. In its actor, the actor stops too
    /// (unless it is <paramref name="stopping"/> already); in the first turn there is no actor (or one that is told to
    /// adopt a finished connection, and stops).
    /// </summary>
    public static void Finish(ConnectionState s, ConnectionCloseReason reason, Exception? error = null, bool stopping = false)
    {
        if (s.Finished) return;
        Volatile.Write(ref s.Finished, true);
        s.Readiness?.ReleaseForClose(); // the close takes it out of epoll; its slot is freed before the number is reused
        s.GenerationTimer?.Cancel();
        s.Socket.Close();
        s.Tx.Clear();
        if (s.Rx is not null)
        {
            ArrayPool<byte>.Shared.Return(s.Rx);
            s.Rx = null;
        }
        s.RxCount = 0;
        if (s.Handler is not null)
        {
            try
            {
                s.Handler.OnClosed(s, reason);
            }
            catch (Exception e)
            {
                s.Log.Warning("Connection {Listener}/{Shard}/{Connection} handler OnClosed threw: {Error}", s.ListenerName, s.ShardId, s.ConnectionId, e.Message);
            }
        }
        s.Counters.ConnectionClosed();
        var actor = s.Actor;
        // A retiring shard may be done now. (Its Retiring is set before it counts its connections, and ours was
        // uncounted above, so one of the two sees the other: no message per connection while the shard serves. The
        // first turn runs in the shard, which looks itself.)
        if (actor is not null && s.Shard.Retiring) actor.Parent.Tell(Listeners.Listener.ConnectionEnded.Instance);
        s.Budget.Release();
        s.Lease.Dispose(); // the last connection of a retired generation lets it unload
        if (s.Log.IsDebugEnabled) // every connection passes here: no arguments boxed unless they are logged
            s.Log.Debug("Connection {Listener}/{Shard}/{Connection} closed ({Reason}): {BytesIn} bytes in, {BytesOut} bytes out",
                s.ListenerName, s.ShardId, s.ConnectionId, reason, s.BytesIn, s.BytesOut);
        if (error is not null)
            s.Log.Debug("Connection {Listener}/{Shard}/{Connection} ended early: {Error}", s.ListenerName, s.ShardId, s.ConnectionId, error.Message);
        if (actor is not null && !stopping) actor.Stop(actor.Self);
    }

    /// <summary>Runs a handler callback; a throw closes this connection only. False when the connection ended.</summary>
    public static bool CallHandler<TArg>(ConnectionState s, Action<IConnectionHandler?, ConnectionState, TArg> callback, TArg arg)
    {
        try
        {
            callback(s.Handler, s, arg);
            return true;
        }
        catch (Exception e)
        {
            HandlerFailed(s, e);
            return false;
        }
    }
}
