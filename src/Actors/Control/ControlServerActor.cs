using ShardRuntime.Runtime.Sockets;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using ShardRuntime.Actors.Settings;

namespace ShardRuntime.Actors.Control;

/// <summary>
/// Owns the control socket. Binding -> Serving (accepts, one <see cref="ControlConnectionActor"/> per client), or
/// Binding -> Failed (answers <see cref="Control.WaitUntilBound"/> with the reason). Closes the socket and removes its
/// file when it stops. A client's failure stops that client's actor only. While serving, it checks its socket file
/// every check-interval and on <see cref="Control.CheckSocketFiles"/> (SIGHUP), and binds it again when the file was
/// deleted or replaced by a stale one (<see cref="SocketFileWatch"/>).
/// </summary>
internal sealed class ControlServerActor : ReceiveActor, IWithTimers
{
    /// <summary>Pause before accepting again after an accept error that is not the socket being closed.</summary>
    private static readonly TimeSpan AcceptRetryDelay = TimeSpan.FromMilliseconds(100);

    private readonly ControlSettings _settings;
    private readonly IActorRef _coordinator;
    private readonly IActorRef? _cluster;
    private readonly uint _nodeUserId = ProcessIdentity.EffectiveUserId;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly List<IActorRef> _waitingForBind = [];
    private Task<ControlSocketFile.Bound>? _binding;
    private ControlSocketFile.Bound? _bound;
    private CancellationTokenSource? _accepting;
    private long _clients;

    private readonly bool _deferBind;
    private readonly SocketFileWatch _watch;

    public ControlServerActor(ControlSettings settings, IActorRef coordinator, IActorRef? cluster, bool deferBind)
    {
        _settings = settings;
        _coordinator = coordinator;
        _cluster = cluster;
        _deferBind = deferBind;
        _watch = new SocketFileWatch("Control", settings.RequestTimeout, _log);
        Binding();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected override SupervisorStrategy SupervisorStrategy() =>
        // A client's actor owns that client's socket: stop it, never restart it.
        new OneForOneStrategy(_ => Directive.Stop);

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(Control.CheckSocketFiles));
        if (!_deferBind) Bind(ControlSocketFile.BindAsync(_settings.SocketPath, _settings.RequestTimeout));
    }

    private void Bind(Task<ControlSocketFile.Bound> binding)
    {
        _binding = binding;
        _binding.PipeTo(Self, success: bound => new SocketBound(bound), failure: e => new SocketBindFailed(e));
    }

    protected override void PostStop()
    {
        Context.System.EventStream.Unsubscribe(Self);
        _watch.Stop();
        _accepting?.Cancel();
        _accepting?.Dispose();
        if (_bound is not null)
        {
            ControlSocketFile.Close(_bound);
            _log.Info("Control socket {SocketPath} closed", _bound.Path);
        }
        else if (_binding is { IsCompleted: false })
        {
            // Stopped while binding: whatever the bind produces is nobody's, close it when it arrives.
            _binding.ContinueWith(t => ControlSocketFile.Close(t.Result), TaskContinuationOptions.OnlyOnRanToCompletion);
        }
    }

    private void Binding()
    {
        Receive<Control.WaitUntilBound>(_ => _waitingForBind.Add(Sender));
        Receive<Control.Claim>(_ =>
        {
            _waitingForBind.Add(Sender);
            if (_binding is null) Bind(ControlSocketFile.ReplaceAsync(_settings.SocketPath));
        });
        Receive<SocketBound>(m =>
        {
            _bound = m.Bound;
            _accepting = new CancellationTokenSource();
            _log.Info("Control socket listening on {SocketPath}", m.Bound.Path);
            foreach (var waiting in _waitingForBind)
                waiting.Tell(new Control.Bound(m.Bound.Path));
            _waitingForBind.Clear();
            Become(Serving);
            Timers.StartPeriodicTimer(nameof(Control.CheckSocketFiles), Control.CheckSocketFiles.Instance, _settings.CheckInterval);
            Accept();
        });
        Receive<SocketBindFailed>(m =>
        {
            string reason;
            if (m.Cause is ControlBindException)
            {
                reason = m.Cause.Message;
                _log.Error("Control socket not served: {Reason}", reason);
            }
            else
            {
                reason = $"cannot serve the control socket {_settings.SocketPath}: {m.Cause.Message}";
                _log.Error(m.Cause, "Control socket not served: {Reason}", reason);
            }
            foreach (var waiting in _waitingForBind)
                waiting.Tell(new Control.BindFailed(_settings.SocketPath, reason));
            _waitingForBind.Clear();
            Become(() => Failed(reason));
        });
        Receive<Control.CheckSocketFiles>(_ => { }); // nothing bound yet
    }

    private void Serving()
    {
        Receive<Control.WaitUntilBound>(_ => Sender.Tell(new Control.Bound(_bound!.Path)));
        // Told again while serving: the node resumed after its successor died, and the path is the successor's file.
        Receive<Control.Claim>(_ =>
        {
            var asking = Sender;
            ControlSocketFile.ReplaceAsync(_settings.SocketPath).PipeTo(Self,
                success: bound => new Reclaimed(bound, asking), failure: e => new ReclaimFailed(e, asking));
        });
        Receive<Reclaimed>(m =>
        {
            Replace(m.Bound); // the path is the fresh socket's now: closing the old one leaves it alone
            _log.Info("Control socket {SocketPath} is this node's again", m.Bound.Path);
            m.Asking.Tell(new Control.Bound(m.Bound.Path));
        });
        Receive<ReclaimFailed>(m =>
        {
            _log.Error("Control socket {SocketPath} could not be taken back: {Error}", _settings.SocketPath, m.Cause.Message);
            m.Asking.Tell(new Control.BindFailed(_settings.SocketPath, m.Cause.Message));
        });
        Receive<Control.CheckSocketFiles>(_ => _watch.Start(_bound, Self));
        Receive<SocketFileWatch.Checked>(m =>
        {
            if (_watch.Finish(m) is not { } rebound) return;
            if (!ReferenceEquals(m.Old, _bound)) ControlSocketFile.Close(rebound);
            else Replace(rebound);
        });
        Receive<ClientAccepted>(m =>
        {
            var name = $"client-{++_clients}";
            try
            {
                Context.ActorOf(
                    Akka.Actor.Props.Create(() => new ControlConnectionActor(m.Client, _settings, _coordinator, _cluster, _nodeUserId)),
                    name);
            }
            catch (Exception e)
            {
                _log.Error(e, "Control socket could not start {Name}", name);
                m.Client.Dispose();
            }
            if (ReferenceEquals(m.Listener, _bound!.Socket)) Accept();
        });
        Receive<AcceptFailed>(m =>
        {
            if (!ReferenceEquals(m.Listener, _bound!.Socket)) return; // a socket replaced by a new one: closed on purpose
            if (m.Cause is ObjectDisposedException or OperationCanceledException
                || m.Cause is SocketException { SocketErrorCode: SocketError.OperationAborted or SocketError.Shutdown })
            {
                // The listening socket is gone: nothing will be accepted any more.
                _log.Warning("Control socket {SocketPath} stopped accepting: {Error}", _bound!.Path, m.Cause.Message);
                Context.Stop(Self);
                return;
            }

            // ECONNABORTED, EMFILE, ENOBUFS ...: never let a transient error end the server.
            _log.Warning("Control socket {SocketPath} accept failed, retrying in {Delay}: {Error}", _bound!.Path, AcceptRetryDelay, m.Cause.Message);
            Timers.StartSingleTimer(nameof(AcceptAgain), AcceptAgain.Instance, AcceptRetryDelay);
        });
        Receive<AcceptAgain>(_ => Accept());
    }

    private void Failed(string reason)
    {
        Receive<Control.WaitUntilBound>(_ => Sender.Tell(new Control.BindFailed(_settings.SocketPath, reason)));
        Receive<Control.CheckSocketFiles>(_ => { }); // nothing bound
    }

    /// <summary>Serves <paramref name="rebound"/> from now on instead of the socket whose file was lost (closed here).</summary>
    private void Replace(ControlSocketFile.Bound rebound)
    {
        _accepting!.Cancel();
        _accepting.Dispose();
        ControlSocketFile.Close(_bound!); // its file is gone or another's: left alone
        _bound = rebound;
        _accepting = new CancellationTokenSource();
        Accept();
    }

    private void Accept()
    {
        var listener = _bound!.Socket;
        listener.AcceptAsync(_accepting!.Token).AsTask()
            .PipeTo(Self, success: client => new ClientAccepted(listener, client), failure: e => new AcceptFailed(listener, e));
    }

    /// <summary>Sender: the bind started in PreStart (piped to self). The socket is bound and listening.</summary>
    private sealed record SocketBound(ControlSocketFile.Bound Bound);

    /// <summary>Sender: the bind started in PreStart (piped to self). The socket could not be served; the server moves to Failed.</summary>
    private sealed record SocketBindFailed(Exception Cause);

    /// <summary>Sender: the pending accept on <paramref name="Listener"/> (piped to self). A client connected; a connection actor takes it over.</summary>
    private sealed record ClientAccepted(Socket Listener, Socket Client);

    /// <summary>
    /// Sender: the pending accept on <paramref name="Listener"/> (piped to self). Either the socket closed (stop; unless it
    /// was replaced) or a transient error (retry).
    /// </summary>
    private sealed record AcceptFailed(Socket Listener, Exception Cause) : IDeadLetterSuppression;

    /// <summary>Sender: a Claim while serving (piped to self). The path is bound anew; the old socket goes.</summary>
    private sealed record Reclaimed(ControlSocketFile.Bound Bound, IActorRef Asking);

    /// <summary>Sender: a Claim while serving (piped to self). The path could not be bound anew; the server goes on with its socket.</summary>
    private sealed record ReclaimFailed(Exception Cause, IActorRef Asking);

    /// <summary>Sender: the retry timer after a transient accept error. The server accepts again.</summary>
    private sealed class AcceptAgain
    {
        public static readonly AcceptAgain Instance = new();
        private AcceptAgain() { }
    }
}
