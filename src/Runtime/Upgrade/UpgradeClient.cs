using System.Net.Sockets;

namespace ShardRuntime.Runtime.Upgrade;

/// <summary>
/// The successor's side of a process upgrade: connects to the old process's upgrade socket, receives every listening
/// socket with its label, checks each against its label before adopting it, and says <c>Ready</c> when the caller
/// has started accepting on them (<see cref="SendReadyAsync"/>). Disposing before that makes the old process roll
/// back and keep serving. One client serves one upgrade.
/// </summary>
public sealed class UpgradeClient : IDisposable
{
    private UpgradeConnection? _connection;
    private bool _received;
    private bool _disposed;

    /// <summary>A client that waits at most <paramref name="stepTimeout"/> for connecting and for each frame of the old process.</summary>
    public UpgradeClient(TimeSpan stepTimeout)
    {
        if (stepTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(stepTimeout), stepTimeout, "The step timeout must be positive.");
        }

        StepTimeout = stepTimeout;
    }

    /// <summary>How long each step of the protocol may take.</summary>
    public TimeSpan StepTimeout { get; }

    /// <summary>The old process's generation (from <c>Done</c>); 0 until every socket was received.</summary>
    public int PredecessorGeneration { get; private set; }

    /// <summary>
    /// Connects to the upgrade socket at <paramref name="path"/> and receives every socket. The returned sockets belong
    /// to the caller. On failure the sockets received so far are closed (the old process still has them) and a
    /// <see cref="UpgradeException"/> (or <see cref="UpgradeRefusedException"/>) says why.
    /// </summary>
    public async Task<IReadOnlyList<(Socket Socket, SocketLabel Label)>> ReceiveAsync(string path, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_connection is not null)
        {
            throw new InvalidOperationException("This client already received its sockets; one client serves one upgrade.");
        }

        var unix = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _connection = new UpgradeConnection(unix);
        await ConnectAsync(unix, path, cancellationToken).ConfigureAwait(false);
        PredecessorProcessId = PeerProcessIdOf(unix);

        var adopted = new List<(Socket Socket, SocketLabel Label)>();
        try
        {
            await SayHelloAsync(cancellationToken).ConfigureAwait(false);
            await ReceiveUntilDoneAsync(adopted, cancellationToken).ConfigureAwait(false);
            return adopted;
        }
        catch (Exception ex)
        {
            foreach (var (socket, _) in adopted)
            {
                socket.Dispose();
            }

            if (ex is UpgradeException and not UpgradeRefusedException)
            {
                await TryAbortAsync(ex.Message).ConfigureAwait(false);
            }

            _connection.Dispose();
            throw;
        }
    }

    /// <summary>Connects <paramref name="unix"/> to the upgrade socket, waiting at most <see cref="StepTimeout"/>.</summary>
    private async Task ConnectAsync(Socket unix, string path, CancellationToken cancellationToken)
    {
        using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        connectTimeout.CancelAfter(StepTimeout);
        try
        {
            await unix.ConnectAsync(new UnixDomainSocketEndPoint(path), connectTimeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new UpgradeException($"Connecting to the upgrade socket {path} timed out after {StepTimeout.TotalSeconds:0.###} s.", ex);
        }
        catch (SocketException ex)
        {
            throw new UpgradeException($"Cannot connect to the upgrade socket {path}: {ex.SocketErrorCode} ({ex.Message}).", ex);
        }
    }

    /// <summary>The pid of the process at the other end of <paramref name="unix"/> (SO_PEERCRED), null when it cannot be read.</summary>
    private static int? PeerProcessIdOf(Socket unix)
    {
        try
        {
            return Sockets.PeerCredentials.Of(unix).ProcessId;
        }
        catch (Exception e) when (e is SocketException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>Writes <c>Hello</c>; a connection closed before it went out is read for a <c>Refused</c> and its reason.</summary>
    private async Task SayHelloAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _connection!.WriteAsync(UpgradeFrame.Hello(Environment.ProcessId), [], StepTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (UpgradePeerGoneException)
        {
            // A refusal comes at once and the connection closes, possibly before Hello went out: read why.
            var (refusal, fds) = await _connection!.ReadAsync("the reason of a refusal", StepTimeout, cancellationToken).ConfigureAwait(false);
            UnixFdPassing.CloseAll(fds);
            if (refusal.Type == UpgradeFrameType.Refused)
            {
                throw new UpgradeRefusedException(refusal.Reason ?? "no reason given");
            }

            throw;
        }
    }

    /// <summary>
    /// Adopts and acknowledges batch after batch into <paramref name="adopted"/> until <c>Done</c>, which must count
    /// every socket that arrived; throws for anything else the old process sends.
    /// </summary>
    private async Task ReceiveUntilDoneAsync(List<(Socket Socket, SocketLabel Label)> adopted, CancellationToken cancellationToken)
    {
        while (true)
        {
            var (frame, fds) = await _connection!.ReadAsync("the next batch or Done", StepTimeout, cancellationToken).ConfigureAwait(false);
            switch (frame.Type)
            {
                case UpgradeFrameType.Batch:
                    int batch = frame.Batch ?? 0;
                    AdoptBatch(batch, frame.Labels!, fds, adopted);
                    await _connection.WriteAsync(UpgradeFrame.Ack(batch, fds.Count), [], StepTimeout, cancellationToken).ConfigureAwait(false);
                    break;
                case UpgradeFrameType.Done:
                    if (frame.Total != adopted.Count)
                    {
                        throw new UpgradeException($"Done says {frame.Total} socket(s) were passed, {adopted.Count} arrived.");
                    }

                    _received = true;
                    PredecessorGeneration = frame.Generation ?? 1;
                    return;
                case UpgradeFrameType.Refused:
                    throw new UpgradeRefusedException(frame.Reason ?? "no reason given");
                case UpgradeFrameType.Abort:
                    throw new UpgradeException($"The old process abandoned the upgrade: {frame.Reason}");
                default:
                    throw new UpgradeException($"Expected a batch or Done, the old process sent {frame.Type}.");
            }
        }
    }

    /// <summary>
    /// Tells the old process that this one accepts on the sockets, so it may stop accepting and drain, and waits for it
    /// to commit. Call it once, after <see cref="ReceiveAsync"/> and after accepting started.
    /// <paramref name="declined"/> names (by inode) received sockets this process does not serve; the old process
    /// retires them. Returns <see cref="ReadyAnswer.Released"/> when the old process committed, or
    /// <see cref="ReadyAnswer.PredecessorGone"/> when it is gone without a word (it crashed: this process is the
    /// only one left and keeps serving). Throws <see cref="UpgradeException"/> when the old process did not commit and
    /// still runs (it abandoned the upgrade, for example after its timeout, and serves on): then this process must stop
    /// accepting and leave the sockets to it.
    /// </summary>
    /// <remarks>
    /// When no answer comes in time, this side shuts down its receiving half before deciding: a <c>Released</c> the old
    /// process writes after that fails on its side (so it rolls back) instead of committing unseen, and one written
    /// before is still read. The two processes therefore never both let go of the sockets.
    /// </remarks>
    public async Task<ReadyAnswer> SendReadyAsync(IEnumerable<long>? declined = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_connection is null || !_received)
        {
            throw new InvalidOperationException("Ready comes after every socket was received.");
        }

        try
        {
            await _connection.WriteAsync(UpgradeFrame.Ready(declined ?? []), [], StepTimeout, CancellationToken.None).ConfigureAwait(false);
            var (frame, fds) = await _connection.ReadAsync("Released", StepTimeout, CancellationToken.None).ConfigureAwait(false);
            UnixFdPassing.CloseAll(fds);
            return Answer(frame);
        }
        catch (UpgradeException ex) when (ex is not UpgradeAbandonedException)
        {
            // Gone, broken or silent: stop the old process from committing from now on, then read what it said before.
            _connection.ShutdownReceive();
            while (true)
            {
                UpgradeFrame frame;
                try
                {
                    (frame, var fds) = await _connection.ReadAsync("Released", TimeSpan.FromSeconds(1), CancellationToken.None).ConfigureAwait(false);
                    UnixFdPassing.CloseAll(fds);
                }
                catch (UpgradeException)
                {
                    break;
                }

                if (frame.Type is UpgradeFrameType.Released or UpgradeFrameType.Abort)
                {
                    return Answer(frame);
                }
            }

            if (PredecessorProcessId is { } pid and > 0 && PeerProcess.IsAlive(pid))
            {
                throw new UpgradeAbandonedException($"The old process (pid {pid}) did not release the sockets and still runs ({ex.Message}); it serves on.");
            }

            return ReadyAnswer.PredecessorGone;
        }
    }

    /// <summary>The old process's pid as SO_PEERCRED gave it on connecting (0 when unknown, e.g. in another pid namespace).</summary>
    public int? PredecessorProcessId { get; private set; }

    /// <summary>
    /// How long the old process said (in <c>Released</c>) it keeps its copies of the sockets, not accepting, while it
    /// watches this one (its stability period); zero for an old process that lets go at once.
    /// </summary>
    public TimeSpan PredecessorHold { get; private set; }

    /// <summary>
    /// After <see cref="ReadyAnswer.Released"/>: waits until the old process closed its copies of the listening
    /// sockets, which it says by closing the upgrade connection (at the end of its stability period, or when it exits).
    /// Until then the sockets are still in their reuseport groups whatever this process closes, so it must not retire
    /// or steer any. Returns false when that did not happen within <see cref="PredecessorHold"/> plus
    /// <paramref name="margin"/>. Never throws for a connection that broke (that is the old process gone).
    /// </summary>
    public async Task<bool> WaitForLetGoAsync(TimeSpan margin)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_connection is null || !_received)
        {
            throw new InvalidOperationException("The old process lets go after it released the sockets.");
        }

        var until = DateTime.UtcNow + PredecessorHold + margin;
        while (true)
        {
            var left = until - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                return false;
            }

            try
            {
                var (_, fds) = await _connection.ReadAsync("the end of the upgrade connection", left, CancellationToken.None).ConfigureAwait(false);
                UnixFdPassing.CloseAll(fds); // nothing more is expected; whatever comes is read past
            }
            catch (UpgradePeerGoneException)
            {
                return true;
            }
            catch (UpgradeException) when (DateTime.UtcNow >= until)
            {
                return false;
            }
            catch (UpgradeException)
            {
                return true; // broken: the old process is gone, and its copies with it
            }
        }
    }

    private ReadyAnswer Answer(UpgradeFrame frame) => frame.Type switch
    {
        UpgradeFrameType.Released => Released(frame),
        UpgradeFrameType.Abort => throw new UpgradeAbandonedException($"The old process abandoned the upgrade and serves on: {frame.Reason}"),
        _ => throw new UpgradeException($"Expected Released, the old process sent {frame.Type}."),
    };

    private ReadyAnswer Released(UpgradeFrame frame)
    {
        PredecessorHold = TimeSpan.FromMilliseconds(Math.Max(0, frame.HoldMilliseconds ?? 0));
        return ReadyAnswer.Released;
    }

    /// <summary>Closes the upgrade connection (never the received sockets). Before Ready, the old process rolls back.</summary>
    public void Dispose()
    {
        _disposed = true;
        _connection?.Dispose();
    }

    private static void AdoptBatch(
        int batch, List<UpgradeFrame.LabelFrame> labels, List<int> fds, List<(Socket Socket, SocketLabel Label)> adopted)
    {
        // Every descriptor becomes a Socket first, so each is closed exactly once whatever fails later.
        var sockets = new List<Socket>(fds.Count);
        try
        {
            for (int i = 0; i < fds.Count; i++)
            {
                sockets.Add(new Socket(new SafeSocketHandle(fds[i], ownsHandle: true)));
            }
        }
        catch
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }

            UnixFdPassing.CloseAll(fds.Skip(sockets.Count));
            throw;
        }

        string? failure = null;
        for (int i = 0; i < sockets.Count && failure is null; i++)
        {
            try
            {
                var label = labels[i].ToLabel();
                failure = SocketLabelCheck.Mismatch(sockets[i], label);
                if (failure is null)
                {
                    adopted.Add((sockets[i], label));
                    sockets[i] = null!;
                }
            }
            catch (UpgradeException ex)
            {
                failure = ex.Message;
            }
        }

        if (failure is not null)
        {
            foreach (var socket in sockets)
            {
                socket?.Dispose();
            }

            throw new UpgradeException($"Batch {batch}: a received socket does not match its label. {failure}");
        }
    }

    private async Task TryAbortAsync(string reason)
    {
        try
        {
            await _connection!.WriteAsync(UpgradeFrame.Abort(reason), [], StepTimeout, CancellationToken.None).ConfigureAwait(false);
        }
        catch (UpgradeException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
