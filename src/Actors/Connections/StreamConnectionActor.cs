using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using ShardRuntime.Actors.Listeners;
using ShardRuntime.Runtime.Connections;

namespace ShardRuntime.Actors.Connections;

/// <summary>
/// Owns one accepted socket on the stream path and the life of its handler's task (<see cref="StreamConnectionRunner"/>,
/// on the thread pool): it starts the task, passes the shard's drain to the handler (<see cref="IStreamConnection.Draining"/>)
/// with the drain deadline as a timer, aborts at that deadline, at the idle timeout (the shard's sweep tells it to look)
/// or when told, and when the task ended (<see cref="StreamConnection.Ended"/>) or was aborted it closes the socket,
/// gives back the connection's slot, lease and count, and stops. An abort does not wait for the handler: a handler that
/// ignores <see cref="IStreamConnection.Aborted"/> finds its socket closed, and nothing it holds keeps the shard waiting.
/// A handler's exception is logged and counted here and closes this connection only. Other messages go to the handler
/// (<see cref="IConnectionMessagesFeature"/>). A restart (its shard restarted) continues the same connection and task.
/// </summary>
internal sealed class StreamConnectionActor : UntypedActor
{
    private readonly StreamConnectionState _connection;

    public StreamConnectionActor(StreamConnectionState connection) => _connection = connection;

    private ILoggingAdapter Log => _connection.Log;

    protected override void PreStart()
    {
        if (_connection.Started) return;
        _connection.Started = true;
        var connection = _connection;
        var self = Self;
        _ = Task.Run(() => StreamConnectionRunner.RunAsync(connection))
            .ContinueWith(static (t, self) => ((IActorRef)self!).Tell(t.Result), self, TaskContinuationOptions.ExecuteSynchronously);
    }

    protected override void OnReceive(object message)
    {
        if (_connection.Finished) return;
        switch (message)
        {
            case StreamConnection.Ended ended:
                OnEnded(ended);
                break;
            case Connection.Abort abort:
                AbortNow(abort.Reason);
                break;
            case Connection.DeadlineCheck when _connection.HandedOff:
                break; // its idleness is the handler's, which took the socket
            case Connection.DeadlineCheck:
                var idle = TimeSpan.FromMilliseconds(Environment.TickCount64 - Volatile.Read(ref _connection.LastActivity));
                if (idle < _connection.Settings.IdleTimeout) break; // there was activity since the sweep looked
                Log.Debug("Connection {Listener}/{Shard}/{Connection} idle for {Idle}; aborting", _connection.ListenerName, _connection.ShardId, _connection.ConnectionId, idle);
                AbortNow(ConnectionCloseReason.IdleTimeout);
                break;
            case Connection.RetireGeneration retire:
                if (_connection.HandlerGeneration >= retire.Current || _connection.GenerationRetired) break;
                _connection.GenerationRetired = true;
                _connection.CancelDraining();
                _connection.GenerationTimer = Context.System.Scheduler.ScheduleTellOnceCancelable(
                    retire.DrainTimeout, Self, Connection.GenerationDeadline.Instance, Self);
                break;
            case Connection.GenerationDeadline:
                Log.Debug("Connection {Listener}/{Shard}/{Connection} of retired handler generation {Generation}: drain deadline passed; aborting",
                    _connection.ListenerName, _connection.ShardId, _connection.ConnectionId, _connection.HandlerGeneration);
                AbortNow(ConnectionCloseReason.DrainDeadline);
                break;
            case Connection.ReceiveReady or Connection.SendReady or Connection.LingerExpired or Connection.ReadMore:
                break; // the loop path's, never this one's
            default:
                _connection.Deliver(message);
                break;
        }
    }

    private void OnEnded(StreamConnection.Ended ended)
    {
        if (ended.HandlerFailed)
        {
            _connection.Counters.HandlerFailed();
            Log.Warning("Connection {Listener}/{Shard}/{Connection} handler {Handler} failed: {Error}; closing this connection only",
                _connection.ListenerName, _connection.ShardId, _connection.ConnectionId, _connection.Lease.Generation.Name, ended.Error?.Message);
        }
        else if (ended.Error is not null)
        {
            Log.Debug("Connection {Listener}/{Shard}/{Connection} stream layer failed: {Error}",
                _connection.ListenerName, _connection.ShardId, _connection.ConnectionId, ended.Error.Message);
        }
        var abortive = ended.HandlerFailed || ended.Error is not null;
        Finish(_connection.EndReason ?? ended.Reason, abortive);
    }

    private void AbortNow(ConnectionCloseReason reason)
    {
        _connection.EndReason ??= reason;
        _connection.CancelAborted();
        Finish(reason, abortive: true);
    }

    /// <summary>Closes the socket (a reset when <paramref name="abortive"/>), gives back what the connection held, stops.</summary>
    private void Finish(ConnectionCloseReason reason, bool abortive, bool stopping = false)
    {
        var s = _connection;
        if (s.Finished) return;
        Volatile.Write(ref s.Finished, true);
        s.GenerationTimer?.Cancel();
        try
        {
            if (abortive) s.Socket.LingerState = new LingerOption(true, 0); // close() sends a reset, drops unsent data
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
        s.SocketStream.Unregister(closing: true);
        s.Socket.Dispose(); // a read or write still pending in the task failed with the abort, and the task ends
        s.CompleteMessages();
        s.Counters.ConnectionClosed();
        if (s.Shard.Retiring) Context.Parent.Tell(Listener.ConnectionEnded.Instance);
        s.Budget.Release();
        s.Lease.Dispose();
        if (Log.IsDebugEnabled)
            Log.Debug("Connection {Listener}/{Shard}/{Connection} closed ({Reason}): {BytesIn} bytes in, {BytesOut} bytes out",
                s.ListenerName, s.ShardId, s.ConnectionId, reason, s.BytesIn, s.BytesOut);
        if (!stopping) Context.Stop(Self);
    }

    protected override void PreRestart(Exception reason, object message)
    {
        // Not base.PreRestart (which would run PostStop and abort): the connection and its task carry on.
    }

    protected override void PostRestart(Exception reason) => PreStart();

    protected override void PostStop()
    {
        // Stopped from outside (its shard stopped): never leave the socket open.
        if (_connection.Finished) return;
        _connection.EndReason ??= ConnectionCloseReason.Aborted;
        _connection.CancelAborted();
        Finish(ConnectionCloseReason.Aborted, abortive: true, stopping: true);
    }
}
