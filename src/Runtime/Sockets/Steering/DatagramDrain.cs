using System.Net.Sockets;
using System.Runtime.InteropServices;
using ShardRuntime.Runtime.Sockets.Udp;
using static ShardRuntime.Runtime.Sockets.Udp.DatagramNative;

namespace ShardRuntime.Runtime.Sockets;

/// <summary>
/// The drain of one retiring UDP socket that gets no new datagrams any more (its group steers away from it, see
/// <see cref="ReuseportGroup"/>), so it can be closed without losing a datagram: closing a UDP socket drops every
/// datagram still in its receive queue. The UDP counterpart of <see cref="ListenerDrain"/>, with the same timing
/// (<see cref="ListenerDrain.Check"/>) and the same <see cref="DrainCheck"/> for <see cref="ReuseportGroup.ClosesNow"/>.
/// <para>
/// Datagrams can still arrive after the steering program changed: a softirq on another CPU may be running the old
/// program for a datagram right then. So the owner reads until the queue is empty and has stayed empty for a settle
/// interval (since the last datagram read, and since the last change of the group's steering), and then asks the
/// kernel (<see cref="ReceiveQueueEmpty"/>). What it reads it serves as any datagram: <see cref="ReceiveInto"/> leaves
/// it in the caller's batch.
/// </para>
/// </summary>
/// <param name="startedAt">When the socket began to retire (milliseconds of <see cref="Environment.TickCount64"/>): its settle interval starts then.</param>
/// <param name="settle">How long the receive queue must stay empty.</param>
/// <param name="deadline">When the socket closes anyway, drained or not (a tick count).</param>
public sealed class DatagramDrain(long startedAt, TimeSpan settle, long deadline)
{
    private readonly ListenerDrain _timing = new(startedAt, settle, deadline);

    /// <summary>When the last datagram was read by <see cref="ReceiveInto"/> (long.MinValue: none yet).</summary>
    public long LastReceived { get; private set; } = long.MinValue;

    /// <summary>When the socket closes anyway.</summary>
    public long Deadline => _timing.Deadline;

    /// <summary>The group's steering changed: datagrams steered by the old program may still arrive, so the settle interval starts again.</summary>
    public void SteeringChanged(long now) => _timing.SteeringChanged(now);

    /// <summary>Brings the deadline nearer (never later).</summary>
    public void CloseBy(long deadline) => _timing.CloseBy(deadline);

    /// <summary>
    /// Whether the socket may close now (pure): its deadline passed, or nothing was read for the settle interval (since
    /// <paramref name="lastReceived"/> and since the start or the last steering change) and <paramref name="queueEmpty"/>
    /// (asked only then) says the kernel holds nothing for it.
    /// </summary>
    public DrainCheck Check(long now, long lastReceived, Func<bool> queueEmpty)
    {
        ArgumentNullException.ThrowIfNull(queueEmpty);
        return _timing.Check(now, lastReceived, () => queueEmpty() ? 0 : 1);
    }

    /// <summary>
    /// One step of the drain: receives what waits on <paramref name="socket"/> into <paramref name="batch"/> (the caller
    /// serves <see cref="DatagramBatch.Count"/> datagrams from it, whatever this returns), then says whether the socket may
    /// close. While datagrams keep coming it says <see cref="DrainCheck.Draining"/> (or <see cref="DrainCheck.Overdue"/>).
    /// </summary>
    public DrainCheck ReceiveInto(DatagramBatch batch, Socket socket, long now)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(socket);
        if (batch.ReceiveFrom(socket) > 0)
        {
            LastReceived = now;
        }

        return Check(now, LastReceived, () => ReceiveQueueEmpty(socket));
    }

    /// <summary>
    /// True when the kernel holds no datagram for <paramref name="socket"/>: FIONREAD (the length of the next datagram)
    /// is 0 and a non-blocking peek finds nothing (EAGAIN); the peek also catches a queued datagram of length 0.
    /// </summary>
    public static bool ReceiveQueueEmpty(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (socket.SocketType != SocketType.Dgram)
        {
            throw new InvalidOperationException($"The socket on {socket.LocalEndPoint} is not a datagram socket, so it has no datagram queue.");
        }

        if (socket.Available > 0)
        {
            return false;
        }

        return WithDescriptor(socket, 0, static (fd, _) => PeekFindsNothing(fd));
    }

    private static unsafe bool PeekFindsNothing(int fd)
    {
        byte unused;
        nint n;
        while ((n = Recv(fd, &unused, 0, MsgPeek | MsgDontWait)) < 0 && Marshal.GetLastPInvokeError() == Eintr)
        {
        }

        if (n >= 0)
        {
            return false;
        }

        int errno = Marshal.GetLastPInvokeError();
        return errno == Eagain ? true : throw new DatagramIoException("recv(MSG_PEEK)", errno, fd);
    }
}
