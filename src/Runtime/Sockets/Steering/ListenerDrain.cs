using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;

namespace ShardRuntime.Runtime.Sockets;

/// <summary>
/// Empties the accept queue of a listener that gets no new connections any more (see <see cref="ReuseportSteering"/>),
/// so it can be closed without resetting anyone: closing a listener resets every connection still in its queue.
/// <para>
/// Connections can still arrive after the steering program changed: a handshake whose SYN was steered to this socket
/// before the change completes a round trip later and lands in this queue. So the drain keeps accepting until the
/// queue has stayed empty for a quiet period longer than a handshake takes (a round trip; more if SYN-ACKs are lost
/// and retransmitted: those are not covered, which is what <c>net.ipv4.tcp_migrate_req=1</c> is the safety net for),
/// and then checks the kernel's own count of queued connections.
/// </para>
/// <para>
/// The queue length comes from <c>getsockopt(TCP_INFO)</c> on the listener itself: for a listener the kernel reports
/// its accept queue (sk_ack_backlog) as tcpi_unacked, the same counter <c>/proc/net/tcp</c> prints as rx_queue
/// (<see cref="KernelSocketTable"/>), read without scanning the table and independent of the network namespace of
/// the calling thread.
/// </para>
/// <para>
/// The step functions (<see cref="AcceptQueued"/>, <see cref="QueueLength"/>) never block, for an owner that
/// schedules the steps itself (an actor); <see cref="DrainAsync"/> runs the whole loop. Neither may run while
/// another accept on the same listener is pending: cancel it first.
/// </para>
/// </summary>
public static class ListenerDrain
{
    private const int IpProtoTcp = 6;
    private const int TcpInfo = 11;
    private const int TcpInfoStateOffset = 0;
    private const int TcpInfoUnackedOffset = 24;
    private const int TcpInfoMinimumLength = 32;
    private const byte TcpListenState = 10;
    private static readonly TimeSpan MinimumWait = TimeSpan.FromMilliseconds(1);

    /// <summary>
    /// Accepts, without waiting, up to <paramref name="max"/> connections that are queued on
    /// <paramref name="listener"/> and adds them to <paramref name="into"/>; returns how many. A connection that was
    /// reset while it waited may be returned all the same (its first read fails), as accept() does; accept errors that
    /// concern only one connection (aborted, protocol error) are skipped. Errors that concern the listener or the
    /// process (out of file descriptors, listener closed) are thrown, after the sockets already accepted were added.
    /// </summary>
    public static int AcceptQueued(Socket listener, List<Socket> into, int max)
    {
        ArgumentNullException.ThrowIfNull(listener);
        ArgumentNullException.ThrowIfNull(into);
        ArgumentOutOfRangeException.ThrowIfNegative(max);

        int accepted = 0;
        int skipped = 0;
        while (accepted < max && skipped < max && listener.Poll(0, SelectMode.SelectRead))
        {
            try
            {
                into.Add(listener.Accept());
                accepted++;
            }
            catch (SocketException ex) when (IsConnectionOnly(ex.SocketErrorCode))
            {
                skipped++;
            }
        }

        return accepted;
    }

    /// <summary>The number of connections waiting in <paramref name="listener"/>'s accept queue, as the kernel counts them.</summary>
    public static int QueueLength(Socket listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        Span<byte> info = stackalloc byte[256];
        int length = listener.GetRawSocketOption(IpProtoTcp, TcpInfo, info);
        if (length < TcpInfoMinimumLength)
        {
            throw new InvalidOperationException($"getsockopt(TCP_INFO) returned {length} bytes, too few to hold the accept queue length.");
        }

        if (info[TcpInfoStateOffset] != TcpListenState)
        {
            throw new InvalidOperationException(
                $"The socket on {listener.LocalEndPoint} is not listening (TCP state {info[TcpInfoStateOffset]}), so it has no accept queue.");
        }

        return (int)BinaryPrimitives.ReadUInt32LittleEndian(info[TcpInfoUnackedOffset..]);
    }

    /// <summary>True when the kernel counts no connection waiting in <paramref name="listener"/>'s accept queue.</summary>
    public static bool QueueEmpty(Socket listener) => QueueLength(listener) == 0;

    /// <summary>
    /// Accepts every connection that arrives on <paramref name="listener"/> and hands it to
    /// <paramref name="onAccepted"/> (which takes ownership), until no connection has arrived for
    /// <paramref name="quietPeriod"/> and the kernel counts 0 queued, or until <paramref name="deadline"/> (from now)
    /// passes. Does not close the listener. Steer new connections away from it first, or it may never be quiet.
    /// </summary>
    public static async Task<ListenerDrainResult> DrainAsync(
        Socket listener,
        Action<Socket> onAccepted,
        TimeSpan quietPeriod,
        TimeSpan deadline,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(listener);
        ArgumentNullException.ThrowIfNull(onAccepted);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(quietPeriod, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(deadline, quietPeriod);

        var clock = Stopwatch.StartNew();
        TimeSpan quietSince = TimeSpan.Zero;
        int accepted = 0;
        var batch = new List<Socket>();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();

            // Everything already queued, without waiting.
            batch.Clear();
            if (AcceptQueued(listener, batch, int.MaxValue) > 0)
            {
                accepted += batch.Count;
                batch.ForEach(onAccepted);
                quietSince = clock.Elapsed;
            }

            TimeSpan left = deadline - clock.Elapsed;
            TimeSpan quietFor = clock.Elapsed - quietSince;
            if (quietFor >= quietPeriod && QueueLength(listener) == 0)
            {
                return new ListenerDrainResult(accepted, true, 0, clock.Elapsed);
            }

            if (left <= TimeSpan.Zero)
            {
                return new ListenerDrainResult(accepted, false, QueueLength(listener), clock.Elapsed);
            }

            // Wait for the next connection until the quiet period is complete (timers may fire early: measured above).
            TimeSpan wait = quietPeriod - quietFor;
            wait = wait < MinimumWait ? MinimumWait : wait;
            wait = wait < left ? wait : left;
            using var quiet = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            quiet.CancelAfter(wait);
            try
            {
                Socket socket = await listener.AcceptAsync(quiet.Token).ConfigureAwait(false);
                accepted++;
                quietSince = clock.Elapsed;
                onAccepted(socket);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // Nothing arrived during the wait; the top of the loop decides whether that completes the quiet period.
            }
            catch (SocketException ex) when (IsConnectionOnly(ex.SocketErrorCode))
            {
                // One connection went wrong while it was accepted; the listener is fine.
            }
        }
    }

    /// <summary>Accept errors that concern the one connection being accepted, never the listener (Kestrel sorts them alike).</summary>
    private static bool IsConnectionOnly(SocketError error) =>
        error is SocketError.ConnectionAborted or SocketError.ConnectionReset or SocketError.ProtocolNotSupported
            or SocketError.ProtocolType or SocketError.NetworkDown or SocketError.NetworkUnreachable or SocketError.HostUnreachable
            or SocketError.Interrupted;
}
