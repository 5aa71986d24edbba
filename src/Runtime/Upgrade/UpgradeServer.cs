using System.Net.Sockets;
using ShardRuntime.Runtime.Sockets;

namespace ShardRuntime.Runtime.Upgrade;

/// <summary>
/// The old process's side of a process upgrade: hands every listening socket of this node, with its label, to ONE
/// successor connected to the upgrade socket, and reports whether the successor took them all and said it is ready.
/// </summary>
/// <remarks>
/// The conversation (frames are a 4-byte big-endian length plus UTF-8 JSON):
/// <list type="number">
/// <item>The successor connects. A peer whose uid (SO_PEERCRED) is not this process's effective uid gets a
/// <c>Refused</c> frame with the reason and the connection is closed; nothing else is sent.</item>
/// <item>successor: <c>Hello(processId)</c>.</item>
/// <item>server: <c>Batch(n, labels)</c> with the batch's descriptors (SCM_RIGHTS); successor: <c>Ack(n, count)</c>
/// after it adopted them. Repeated until every socket went.</item>
/// <item>server: <c>Done(total, generation)</c>; successor: <c>Ready(declined)</c> once it accepts on the sockets,
/// naming the sockets it does not serve (their listener left its configuration).</item>
/// <item>server: <c>Released</c>: this process commits, stops accepting and drains; the successor is in charge.</item>
/// </list>
/// Any error, timeout, <c>Abort</c> or end of stream before <c>Ready</c> is a rollback: this process keeps (and never
/// touched) its sockets; the successor's copies are its own to close. Every wait is bounded.
/// </remarks>
public sealed class UpgradeServer
{
    /// <summary>Sockets per batch when none is given.</summary>
    public const int DefaultBatchSize = 16;

    /// <summary>
    /// A server that passes <paramref name="batchSize"/> sockets per batch and waits at most <paramref name="stepTimeout"/>
    /// for each step of the successor (hello, each ack) and for each send.
    /// </summary>
    public UpgradeServer(int batchSize, TimeSpan stepTimeout)
    {
        if (batchSize is < 1 or > UnixFdPassing.MaxDescriptorsPerMessage)
        {
            throw new ArgumentOutOfRangeException(
                nameof(batchSize), batchSize, $"A batch holds 1 to {UnixFdPassing.MaxDescriptorsPerMessage} sockets.");
        }

        if (stepTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(stepTimeout), stepTimeout, "The step timeout must be positive.");
        }

        BatchSize = batchSize;
        StepTimeout = stepTimeout;
    }

    /// <summary>How many sockets are sent in one message.</summary>
    public int BatchSize { get; }

    /// <summary>How long each step of the protocol may take.</summary>
    public TimeSpan StepTimeout { get; }

    /// <summary>
    /// Called with the successor's pid once its Ready arrived and checked out, just before this process commits
    /// (writes Released). The host uses it to tell systemd the successor is the main process from now on.
    /// </summary>
    public Action<int>? OnReady { get; init; }

    /// <summary>
    /// How long this process keeps its copies of the sockets after <c>Released</c>, not accepting, watching the successor
    /// (told to it in <c>Released</c>). When positive, a completed outcome carries the upgrade connection open
    /// (<see cref="UpgradeOutcome.Link"/>): disposing it, once the copies are closed, tells the successor so.
    /// </summary>
    public TimeSpan HoldAfterRelease { get; init; }

    /// <summary>This process's generation, told to the successor (which counts one more).</summary>
    public int ProcessGeneration { get; init; } = 1;

    /// <summary>
    /// Serves one successor on <paramref name="acceptedUnixConnection"/> (accepted from the upgrade socket; this call
    /// owns and closes it). The sockets are never closed or changed here: the caller decides what to do with them
    /// from the outcome (stop accepting and drain when completed, go on serving otherwise).
    /// </summary>
    /// <param name="acceptedUnixConnection">The successor's connection, accepted from the upgrade socket.</param>
    /// <param name="sockets">Every socket to pass with its label; the label's inode is filled in from the socket.</param>
    /// <param name="readyTimeout">How long the successor may take, after <c>Done</c>, to start accepting and say <c>Ready</c>.</param>
    /// <param name="cancellationToken">Cancelling rolls back (the outcome says so); it does not throw.</param>
    public async Task<UpgradeOutcome> ServeAsync(
        Socket acceptedUnixConnection,
        IReadOnlyList<(Socket Socket, SocketLabel Label)> sockets,
        TimeSpan readyTimeout,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(acceptedUnixConnection);
        ArgumentNullException.ThrowIfNull(sockets);
        var connection = new UpgradeConnection(acceptedUnixConnection);
        var keepOpen = false;
        PeerCredentials? peer = null;
        int acknowledged = 0;
        try
        {
            peer = PeerCredentials.Of(acceptedUnixConnection);
            if (RefusalOf(peer.Value) is { } reason)
            {
                await TrySendAsync(connection, UpgradeFrame.Refused(reason), cancellationToken).ConfigureAwait(false);
                return new UpgradeOutcome(UpgradeResult.Refused, peer, 0, reason);
            }

            var labelled = Label(sockets);
            await ExpectHelloAsync(connection, cancellationToken).ConfigureAwait(false);
            int batchNumber = 0;
            foreach (var batch in labelled.Chunk(BatchSize))
            {
                await PassBatchAsync(connection, ++batchNumber, batch, cancellationToken).ConfigureAwait(false);
                acknowledged += batch.Length;
            }

            await connection.WriteAsync(UpgradeFrame.Done(acknowledged, ProcessGeneration), [], StepTimeout, cancellationToken).ConfigureAwait(false);
            var declined = await ExpectReadyAsync(connection, labelled, readyTimeout, cancellationToken).ConfigureAwait(false);
            OnReady?.Invoke(peer.Value.ProcessId);

            // Released is the commit: once it is written this process stops accepting. Before that, any failure rolls back.
            await connection.WriteAsync(UpgradeFrame.Released(HoldAfterRelease), [], StepTimeout, CancellationToken.None).ConfigureAwait(false);
            keepOpen = HoldAfterRelease > TimeSpan.Zero;
            return new UpgradeOutcome(UpgradeResult.Completed, peer, acknowledged, null) { Declined = declined, Link = keepOpen ? connection : null };
        }
        catch (UpgradeException ex)
        {
            return await AbortAsync(connection, peer, acknowledged, ex.Message).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return await AbortAsync(connection, peer, acknowledged, "the upgrade was cancelled on this side").ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            string reason = $"the upgrade connection failed: {ex.SocketErrorCode} ({ex.Message})";
            return new UpgradeOutcome(UpgradeResult.RolledBack, peer, acknowledged, reason);
        }
        finally
        {
            if (!keepOpen) connection.Dispose();
        }
    }

    /// <summary>Rolls back: tells the successor why with <c>Abort</c> (if it still listens) and says so in the outcome.</summary>
    private async Task<UpgradeOutcome> AbortAsync(UpgradeConnection connection, PeerCredentials? peer, int acknowledged, string reason)
    {
        await TrySendAsync(connection, UpgradeFrame.Abort(reason), CancellationToken.None).ConfigureAwait(false);
        return new UpgradeOutcome(UpgradeResult.RolledBack, peer, acknowledged, reason);
    }

    /// <summary>Why <paramref name="peer"/> may not take this node's sockets (it runs as another user); null when it may.</summary>
    private static string? RefusalOf(PeerCredentials peer)
    {
        uint ours = ProcessIdentity.EffectiveUserId;
        if (peer.UserId == ours)
        {
            return null;
        }

        return $"peer pid {peer.ProcessId} runs as uid {ProcessIdentity.DescribeUser(peer.UserId)}; " +
               $"only uid {ProcessIdentity.DescribeUser(ours)} (this node's user) may take its sockets";
    }

    private async Task ExpectHelloAsync(UpgradeConnection connection, CancellationToken cancellationToken)
    {
        var hello = await ExpectAsync(connection, UpgradeFrameType.Hello, "Hello", StepTimeout, cancellationToken).ConfigureAwait(false);
        // The pid is only informative: a successor in another pid namespace names a pid we see differently.
        if (hello.ProcessId is null)
        {
            throw new UpgradeException("Hello names no process id.");
        }
    }

    /// <summary>Sends batch <paramref name="batchNumber"/> and waits for the successor's <c>Ack</c> of every socket in it.</summary>
    private async Task PassBatchAsync(
        UpgradeConnection connection, int batchNumber, (Socket Socket, SocketLabel Label)[] batch, CancellationToken cancellationToken)
    {
        await SendBatchAsync(connection, batchNumber, batch, cancellationToken).ConfigureAwait(false);
        var ack = await ExpectAsync(connection, UpgradeFrameType.Ack, $"Ack of batch {batchNumber}", StepTimeout, cancellationToken)
            .ConfigureAwait(false);
        if (ack.Batch != batchNumber || ack.Count != batch.Length)
        {
            throw new UpgradeException(
                $"Ack names batch {ack.Batch} with {ack.Count} socket(s); batch {batchNumber} had {batch.Length}.");
        }
    }

    /// <summary>Waits for <c>Ready</c> and returns the inodes it declines, each of which must be one of <paramref name="labelled"/>.</summary>
    private static async Task<List<long>> ExpectReadyAsync(
        UpgradeConnection connection, List<(Socket Socket, SocketLabel Label)> labelled, TimeSpan readyTimeout, CancellationToken cancellationToken)
    {
        var ready = await ExpectAsync(connection, UpgradeFrameType.Ready, "Ready", readyTimeout, cancellationToken).ConfigureAwait(false);
        var passed = labelled.Select(l => l.Label.Inode).ToHashSet();
        var declined = (ready.Declined ?? []).Distinct().ToList();
        if (declined.FirstOrDefault(inode => !passed.Contains(inode)) is var unknown and not 0)
        {
            throw new UpgradeException($"Ready declines socket inode {unknown}, which was not passed.");
        }

        return declined;
    }

    /// <summary>
    /// Answers a successor that may not have the sockets now (another upgrade runs, the node is draining) with a
    /// <c>Refused</c> frame naming <paramref name="reason"/>, and closes the connection. Never throws for a peer that went away.
    /// </summary>
    public static async Task RefuseAsync(Socket acceptedUnixConnection, string reason, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(acceptedUnixConnection);
        using var connection = new UpgradeConnection(acceptedUnixConnection);
        try
        {
            await connection.WriteAsync(UpgradeFrame.Refused(reason), [], timeout, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is UpgradeException or ObjectDisposedException)
        {
            // Gone already: nothing to tell.
        }
    }

    private static List<(Socket Socket, SocketLabel Label)> Label(IReadOnlyList<(Socket Socket, SocketLabel Label)> sockets)
    {
        var labelled = new List<(Socket, SocketLabel)>(sockets.Count);
        foreach (var (socket, label) in sockets)
        {
            ArgumentNullException.ThrowIfNull(socket);
            ArgumentNullException.ThrowIfNull(label);
            var withInode = label with { Inode = KernelSocketTable.GetInode(socket) };
            if (SocketLabelCheck.Mismatch(socket, withInode, checkInode: false) is { } mismatch)
            {
                throw new UpgradeException($"This process labelled a socket wrongly, nothing was passed. {mismatch}");
            }

            labelled.Add((socket, withInode));
        }

        return labelled;
    }

    private async Task SendBatchAsync(
        UpgradeConnection connection, int batchNumber, (Socket Socket, SocketLabel Label)[] batch, CancellationToken cancellationToken)
    {
        // The kernel takes its own reference to each open file while it is in flight, so the copies are closed right after.
        var copies = new List<int>(batch.Length);
        try
        {
            foreach (var (socket, _) in batch)
            {
                copies.Add(UnixFdPassing.Duplicate(socket));
            }

            var frame = UpgradeFrame.ForBatch(batchNumber, batch.Select(b => b.Label));
            await connection.WriteAsync(frame, copies, StepTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            throw new UpgradeException($"Could not copy the descriptors of batch {batchNumber}: {ex.Message}", ex);
        }
        finally
        {
            UnixFdPassing.CloseAll(copies);
        }
    }

    private static async Task<UpgradeFrame> ExpectAsync(
        UpgradeConnection connection, UpgradeFrameType type, string waitingFor, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var (frame, fds) = await connection.ReadAsync(waitingFor, timeout, cancellationToken).ConfigureAwait(false);
        UnixFdPassing.CloseAll(fds);
        if (frame.Type == UpgradeFrameType.Abort)
        {
            throw new UpgradeException($"The successor gave up while this side waited for {waitingFor}: {frame.Reason}");
        }

        if (frame.Type != type)
        {
            throw new UpgradeException($"Expected {waitingFor}, the successor sent {frame.Type}.");
        }

        return frame;
    }

    private async Task TrySendAsync(UpgradeConnection connection, UpgradeFrame frame, CancellationToken cancellationToken)
    {
        try
        {
            await connection.WriteAsync(frame, [], StepTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is UpgradeException or OperationCanceledException or ObjectDisposedException)
        {
            // The peer is gone or stuck; the outcome already says why.
        }
    }
}
