using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;

namespace ShardRuntime.Actors.ControlSocket;

/// <summary>What a <see cref="UnixSocketServerActor{TWaitUntilBound,TClaim}"/> serves and how.</summary>
/// <param name="Name">The socket's name in log lines: "Control", "Upgrade".</param>
/// <param name="SocketPath">The path it binds (mode 0600, its directory 0700).</param>
/// <param name="ProbeTimeout">How long the check whether another node serves the path waits for it to accept.</param>
/// <param name="CheckInterval">How often the socket file is checked to be still this server's (<c>shard-runtime.control.check-interval</c>).</param>
/// <param name="DeferBind">A successor: bind only when claimed (once its predecessor let the listening sockets go).</param>
internal sealed record UnixSocketServerSettings(string Name, string SocketPath, TimeSpan ProbeTimeout, TimeSpan CheckInterval, bool DeferBind);

/// <summary>
/// The behaviour the control socket and the upgrade socket share, as states: Binding -> Serving (accepts; each peer
/// goes to <see cref="OnPeer"/>) or Binding -> Failed (the reason is every later answer). <typeparamref name="TWaitUntilBound"/>
/// is answered in each state (<see cref="BoundReply"/> or <see cref="BindFailedReply"/>); <typeparamref name="TClaim"/>
/// binds the path anew by renaming a fresh socket over it (a successor taking its predecessor's path, a node taking
/// its path back from a successor that died) and answers the same way. While serving, the socket file is checked every
/// check-interval and on <see cref="Control.CheckSocketFiles"/> (SIGHUP), and bound again when deleted or replaced by a
/// stale one (<see cref="SocketFileWatch"/>). A transient accept error is retried; the socket closed under the server
/// ends accepting (<see cref="OnListenerGone"/>). The server alone owns its listening socket and closes it when it stops.
/// The subclass adds its own messages with <see cref="ReceiveOwn"/>, which every state includes.
/// </summary>
internal abstract class UnixSocketServerActor<TWaitUntilBound, TClaim> : ReceiveActor, IWithTimers
{
    /// <summary>Pause before accepting again after an accept error that is not the socket being closed.</summary>
    private static readonly TimeSpan AcceptRetryDelay = TimeSpan.FromMilliseconds(100);

    private readonly UnixSocketServerSettings _server;
    private readonly SocketFileWatch _watch;
    private readonly List<IActorRef> _waitingForBind = [];
    private Task<ControlSocketFile.Bound>? _binding;
    private CancellationTokenSource? _accepting;

    protected UnixSocketServerActor(UnixSocketServerSettings server)
    {
        _server = server;
        _watch = new SocketFileWatch(server.Name, server.ProbeTimeout, Log);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected ILoggingAdapter Log { get; } = Context.GetLogger();

    /// <summary>The socket served now; null while binding or after a failure.</summary>
    protected ControlSocketFile.Bound? BoundSocket { get; private set; }

    /// <summary>Why the socket is not served, once binding failed; null otherwise.</summary>
    protected string? BindFailure { get; private set; }

    /// <summary>The reply to <typeparamref name="TWaitUntilBound"/> and <typeparamref name="TClaim"/> once bound.</summary>
    protected abstract object BoundReply(string socketPath);

    /// <summary>The reply to <typeparamref name="TWaitUntilBound"/> and <typeparamref name="TClaim"/> when the path is not served.</summary>
    protected abstract object BindFailedReply(string socketPath, string reason);

    /// <summary>A peer connected; the subclass owns <paramref name="peer"/> from now on.</summary>
    protected abstract void OnPeer(Socket peer);

    /// <summary>Registers the subclass's own messages; called for every state.</summary>
    protected abstract void ReceiveOwn();

    /// <summary>The socket is served at <paramref name="socketPath"/> (first bind or bound anew); logged by default.</summary>
    protected virtual void OnBound(string socketPath) => Log.Info("{Socket} socket listening on {SocketPath}", _server.Name, socketPath);

    /// <summary>Binding failed (<paramref name="reason"/>): nothing is served until a claim binds again. Default: nothing more than the log line.</summary>
    protected virtual void OnBindFailed(string reason)
    {
    }

    /// <summary>The listening socket was closed under the server: nothing is accepted any more. Default: carry on without it.</summary>
    protected virtual void OnListenerGone()
    {
    }

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(Control.CheckSocketFiles));
        Become(Binding);
        if (!_server.DeferBind) Bind(ControlSocketFile.BindAsync(_server.SocketPath, _server.ProbeTimeout));
    }

    protected override void PostStop()
    {
        Context.System.EventStream.Unsubscribe(Self);
        _watch.Stop();
        _accepting?.Cancel();
        _accepting?.Dispose();
        if (BoundSocket is not null)
        {
            ControlSocketFile.Close(BoundSocket);
            Log.Info("{Socket} socket {SocketPath} closed", _server.Name, BoundSocket.Path);
        }
        else if (_binding is { IsCompleted: false })
        {
            // Stopped while binding: whatever the bind produces is nobody's, close it when it arrives.
            _binding.ContinueWith(t => ControlSocketFile.Close(t.Result), TaskContinuationOptions.OnlyOnRanToCompletion);
        }
    }

    /// <summary>Binds the path anew, taking it back (a successor that had replaced the file died). <paramref name="asking"/> hears how it went.</summary>
    protected void Reclaim(IActorRef? asking) => Self.Tell(new ReclaimRequested(asking));

    private void Bind(Task<ControlSocketFile.Bound> binding)
    {
        _binding = binding;
        _binding.PipeTo(Self, success: bound => new SocketBound(bound), failure: e => new SocketBindFailed(e.GetBaseException()));
    }

    private void Binding()
    {
        Receive<TWaitUntilBound>(_ => _waitingForBind.Add(Sender));
        Receive<TClaim>(_ => ClaimWhileBinding(Sender));
        Receive<ReclaimRequested>(m => ClaimWhileBinding(m.Asking));
        Receive<SocketBound>(m =>
        {
            BoundSocket = m.Bound;
            BindFailure = null;
            _accepting = new CancellationTokenSource();
            OnBound(m.Bound.Path);
            Answer(BoundReply(m.Bound.Path));
            Become(Serving);
            Timers.StartPeriodicTimer(nameof(Control.CheckSocketFiles), Control.CheckSocketFiles.Instance, _server.CheckInterval);
            Accept();
        });
        Receive<SocketBindFailed>(m =>
        {
            var reason = m.Cause is ControlBindException
                ? m.Cause.Message
                : $"cannot serve the {_server.Name.ToLowerInvariant()} socket {_server.SocketPath}: {m.Cause.Message}";
            Log.Error("{Socket} socket not served: {Reason}", _server.Name, reason);
            BindFailure = reason;
            _binding = null;
            Answer(BindFailedReply(_server.SocketPath, reason));
            Become(Failed);
            OnBindFailed(reason);
        });
        Receive<Control.CheckSocketFiles>(_ => { }); // nothing bound yet
        ReceiveOwn();
    }

    private void Serving()
    {
        Receive<TWaitUntilBound>(_ => Sender.Tell(BoundReply(BoundSocket!.Path)));
        Receive<TClaim>(_ => ReplaceAsync(Sender));
        Receive<ReclaimRequested>(m => ReplaceAsync(m.Asking));
        Receive<Reclaimed>(m =>
        {
            Replace(m.Bound); // the path is the fresh socket's now: closing the old one leaves it alone
            Log.Info("{Socket} socket {SocketPath} is this node's again", _server.Name, m.Bound.Path);
            m.Asking?.Tell(BoundReply(m.Bound.Path));
        });
        Receive<ReclaimFailed>(m =>
        {
            Log.Error("{Socket} socket {SocketPath} could not be taken back: {Error}", _server.Name, _server.SocketPath, m.Cause.Message);
            m.Asking?.Tell(BindFailedReply(_server.SocketPath, m.Cause.Message));
        });
        Receive<Control.CheckSocketFiles>(_ => _watch.Start(BoundSocket, Self));
        Receive<SocketFileWatch.Checked>(m =>
        {
            if (_watch.Finish(m) is not { } rebound) return;
            if (!ReferenceEquals(m.Old, BoundSocket)) ControlSocketFile.Close(rebound);
            else Replace(rebound);
        });
        Receive<PeerAccepted>(m =>
        {
            OnPeer(m.Peer);
            if (ReferenceEquals(m.Listener, BoundSocket!.Socket)) Accept();
        });
        Receive<AcceptFailed>(OnAcceptFailed);
        Receive<AcceptAgain>(_ => Accept());
        ReceiveOwn();
    }

    private void Failed()
    {
        Receive<TWaitUntilBound>(_ => Sender.Tell(BindFailedReply(_server.SocketPath, BindFailure!)));
        Receive<TClaim>(_ => ClaimAfterFailure(Sender));
        Receive<ReclaimRequested>(m => ClaimAfterFailure(m.Asking));
        Receive<Control.CheckSocketFiles>(_ => { }); // nothing bound
        ReceiveOwn();
    }

    private void ClaimWhileBinding(IActorRef? asking)
    {
        if (asking is not null) _waitingForBind.Add(asking);
        if (_binding is null) Bind(ControlSocketFile.ReplaceAsync(_server.SocketPath));
    }

    private void ClaimAfterFailure(IActorRef? asking)
    {
        Become(Binding);
        ClaimWhileBinding(asking);
    }

    private void ReplaceAsync(IActorRef? asking) =>
        ControlSocketFile.ReplaceAsync(_server.SocketPath).PipeTo(Self,
            success: bound => new Reclaimed(bound, asking), failure: e => new ReclaimFailed(e.GetBaseException(), asking));

    private void OnAcceptFailed(AcceptFailed m)
    {
        if (!ReferenceEquals(m.Listener, BoundSocket!.Socket)) return; // a socket replaced by a new one: closed on purpose
        if (m.Cause is ObjectDisposedException or OperationCanceledException
            || m.Cause is SocketException { SocketErrorCode: SocketError.OperationAborted or SocketError.Shutdown })
        {
            Log.Warning("{Socket} socket {SocketPath} stopped accepting: {Error}", _server.Name, BoundSocket.Path, m.Cause.Message);
            OnListenerGone();
            return;
        }

        // ECONNABORTED, EMFILE, ENOBUFS ...: never let a transient error end the server.
        Log.Warning("{Socket} socket {SocketPath} accept failed, retrying in {Delay}: {Error}", _server.Name, BoundSocket.Path, AcceptRetryDelay, m.Cause.Message);
        Timers.StartSingleTimer(nameof(AcceptAgain), AcceptAgain.Instance, AcceptRetryDelay);
    }

    private void Answer(object reply)
    {
        foreach (var waiting in _waitingForBind) waiting.Tell(reply);
        _waitingForBind.Clear();
    }

    /// <summary>Serves <paramref name="rebound"/> from now on instead of the socket whose file was lost (closed here).</summary>
    private void Replace(ControlSocketFile.Bound rebound)
    {
        _accepting!.Cancel();
        _accepting.Dispose();
        ControlSocketFile.Close(BoundSocket!); // its file is gone or another's: left alone
        BoundSocket = rebound;
        _accepting = new CancellationTokenSource();
        OnBound(rebound.Path);
        Accept();
    }

    private void Accept()
    {
        var listener = BoundSocket!.Socket;
        listener.AcceptAsync(_accepting!.Token).AsTask()
            .PipeTo(Self, success: peer => new PeerAccepted(listener, peer), failure: e => new AcceptFailed(listener, e));
    }

    /// <summary>Sender: the bind (piped to self). The socket is bound and listening; the server moves to Serving.</summary>
    private sealed record SocketBound(ControlSocketFile.Bound Bound);

    /// <summary>Sender: the bind (piped to self). The socket could not be served; the server moves to Failed.</summary>
    private sealed record SocketBindFailed(Exception Cause);

    /// <summary>Sender: the subclass (<see cref="Reclaim"/>). The path is bound anew; <paramref name="Asking"/> (if any) hears how it went.</summary>
    private sealed record ReclaimRequested(IActorRef? Asking);

    /// <summary>Sender: a claim while serving (piped to self). The path is bound anew; the old socket goes.</summary>
    private sealed record Reclaimed(ControlSocketFile.Bound Bound, IActorRef? Asking);

    /// <summary>Sender: a claim while serving (piped to self). The path could not be bound anew; the server goes on with its socket.</summary>
    private sealed record ReclaimFailed(Exception Cause, IActorRef? Asking);

    /// <summary>Sender: the pending accept on <paramref name="Listener"/> (piped to self). A peer connected.</summary>
    private sealed record PeerAccepted(Socket Listener, Socket Peer);

    /// <summary>
    /// Sender: the pending accept on <paramref name="Listener"/> (piped to self). Either the socket closed (unless it was
    /// replaced: <see cref="OnListenerGone"/>) or a transient error (retry).
    /// </summary>
    private sealed record AcceptFailed(Socket Listener, Exception Cause) : IDeadLetterSuppression;

    /// <summary>Sender: the retry timer after a transient accept error. The server accepts again.</summary>
    private sealed class AcceptAgain
    {
        public static readonly AcceptAgain Instance = new();
        private AcceptAgain() { }
    }
}
