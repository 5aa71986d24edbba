using System.Buffers.Binary;
using System.Net.Sockets;

namespace ShardRuntime.Runtime.Sockets;

/// <summary>
/// The drain of one retiring listener that gets no new connections any more (see <see cref="ReuseportGroup"/>), so it
/// can be closed without resetting anyone: closing a listener resets every connection still in its queue. Its owner
/// keeps accepting on it and tells the drain when it last got a connection; the drain says when the listener may close.
/// <para>
/// Connections can still arrive after the steering program changed: a handshake whose SYN was steered to this socket
/// before the change completes a round trip later and lands in this queue. So the owner accepts until the queue has
/// stayed empty for a quiet period longer than a handshake takes (a round trip; more if SYN-ACKs are lost and
/// retransmitted: those are not covered, which is what <c>net.ipv4.tcp_migrate_req=1</c> is the safety net for), and
/// then checks the kernel's own count of queued connections (<see cref="QueueLength"/>). A change of the group's
/// steering starts the quiet period again (<see cref="SteeringChanged"/>).
/// </para>
/// <para>
/// The queue length comes from <c>getsockopt(TCP_INFO)</c> on the listener itself: for a listener the kernel reports
/// its accept queue (sk_ack_backlog) as tcpi_unacked, the same counter <c>/proc/net/tcp</c> prints as rx_queue
/// (<see cref="KernelSocketTable"/>), read without scanning the table and independent of the network namespace of
/// the calling thread.
/// </para>
/// </summary>
/// <param name="startedAt">When the listener began to retire (milliseconds of <see cref="Environment.TickCount64"/>): its quiet period starts then.</param>
/// <param name="quietPeriod">How long the queue must stay empty.</param>
/// <param name="deadline">When the listener closes anyway, drained or not (a tick count).</param>
public sealed class ListenerDrain(long startedAt, TimeSpan quietPeriod, long deadline)
{
    private const int IpProtoTcp = 6;
    private const int TcpInfo = 11;
    private const int TcpInfoStateOffset = 0;
    private const int TcpInfoUnackedOffset = 24;
    private const int TcpInfoMinimumLength = 32;
    private const byte TcpListenState = 10;

    /// <summary>When the quiet period began: the retirement, or the last change of the group's steering.</summary>
    public long QuietSince { get; private set; } = startedAt;

    /// <summary>When the listener closes anyway.</summary>
    public long Deadline { get; private set; } = deadline;

    /// <summary>The group's steering changed: connections steered by the old program may still arrive, so the quiet period starts again.</summary>
    public void SteeringChanged(long now) => QuietSince = Math.Max(QuietSince, now);

    /// <summary>Brings the deadline nearer (never later).</summary>
    public void CloseBy(long deadline) => Deadline = Math.Min(Deadline, deadline);

    /// <summary>
    /// Whether the listener may close now: its deadline passed, or nothing arrived for the quiet period (since
    /// <paramref name="lastAccepted"/>, the owner's last accepted connection, and since <see cref="QuietSince"/>) and the
    /// kernel counts its queue empty (<paramref name="queueLength"/>, asked only then).
    /// </summary>
    public DrainCheck Check(long now, long lastAccepted, Func<int> queueLength)
    {
        ArgumentNullException.ThrowIfNull(queueLength);
        if (now >= Deadline)
        {
            return DrainCheck.Overdue;
        }

        return now - Math.Max(QuietSince, lastAccepted) >= (long)quietPeriod.TotalMilliseconds && queueLength() == 0
            ? DrainCheck.Drained
            : DrainCheck.Draining;
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
}

/// <summary>What <see cref="ListenerDrain.Check"/> found.</summary>
public enum DrainCheck
{
    /// <summary>Connections may still arrive: keep accepting.</summary>
    Draining,

    /// <summary>The queue stayed empty for the quiet period and the kernel counts it empty: close now, nobody is reset.</summary>
    Drained,

    /// <summary>The deadline passed before the queue went quiet: close anyway (what is still queued is reset).</summary>
    Overdue,
}
