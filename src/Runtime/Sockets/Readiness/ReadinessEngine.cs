using System.Runtime.InteropServices;

namespace ShardRuntime.Runtime.Sockets.Readiness;

/// <summary>
/// Tells connections when their sockets become readable or writable: one epoll instance, edge-triggered, watched by
/// one dedicated thread. This is what lets a connection wait for data holding nothing but its registration (no
/// receive buffer, no pending .NET socket operation, no <see cref="System.Net.Sockets.SocketAsyncEventArgs"/>) and be
/// told in one hop: the epoll thread calls the connection's <see cref="IReadinessListener"/>, which tells its actor.
/// </summary>
/// <remarks>
/// Every socket is registered once for input, output and peer shutdown (<c>EPOLLIN | EPOLLOUT | EPOLLRDHUP |
/// EPOLLET</c>). Edges are counted per registration; a connection that found no data (EAGAIN) arms itself with the
/// count it read before trying (<see cref="ReadinessRegistration.ArmRead"/>), so an edge that came in between is never
/// lost. A registration is identified in epoll by its slot and a generation, so an event that was already read for a
/// socket closed since is recognised as stale and dropped.
/// </remarks>
public sealed partial class ReadinessEngine
{
    private const uint EpollIn = 0x001;
    private const uint EpollOut = 0x004;
    private const uint EpollErr = 0x008;
    private const uint EpollHup = 0x010;
    private const uint EpollRdHup = 0x2000;
    private const uint EpollEt = 1u << 31;
    private const int EpollCtlAdd = 1;
    private const int EpollCtlDel = 2;
    private const int EpollCloexec = 0x80000;
    private const int Eintr = 4;
    private const int MaxEvents = 256;

    private static readonly Lazy<ReadinessEngine> LazyShared = new(() => new ReadinessEngine("shardruntime-epoll"));

    // struct epoll_event is packed on x86-64 (12 bytes) and naturally aligned elsewhere (16 bytes).
    private static readonly int EventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;
    private static readonly int DataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    private readonly int _epoll;
    private readonly object _gate = new();
    private ReadinessRegistration?[] _slots = new ReadinessRegistration?[256];
    private readonly Stack<int> _free = new();
    private int _nextSlot;
    private readonly Thread _thread;

    private ReadinessEngine(string threadName)
    {
        _epoll = EpollCreate1(EpollCloexec);
        if (_epoll < 0) throw new System.Net.Sockets.SocketException(Marshal.GetLastPInvokeError());
        _thread = new Thread(Run) { IsBackground = true, Name = threadName };
        _thread.Start();
    }

    /// <summary>The process's engine, started on first use; it lives as long as the process.</summary>
    public static ReadinessEngine Shared => LazyShared.Value;

    /// <summary>Sockets registered now.</summary>
    public int Registered
    {
        get
        {
            lock (_gate) return _nextSlot - _free.Count;
        }
    }

    /// <summary>
    /// Registers a connected socket's descriptor. The listener is called on the engine's thread, only after it armed
    /// itself (<see cref="ReadinessRegistration.ArmRead"/>, <see cref="ReadinessRegistration.ArmWrite"/>), and must
    /// return at once (tell an actor, nothing more). Dispose the registration before closing the descriptor.
    /// </summary>
    public ReadinessRegistration Register(int fd, IReadinessListener listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        ReadinessRegistration registration;
        lock (_gate)
        {
            var slot = _free.Count > 0 ? _free.Pop() : _nextSlot++;
            if (slot >= _slots.Length)
            {
                var bigger = new ReadinessRegistration?[_slots.Length * 2];
                Array.Copy(_slots, bigger, _slots.Length);
                Volatile.Write(ref _slots, bigger);
            }
            var generation = (_slots[slot]?.Generation ?? 0) + 1;
            registration = new ReadinessRegistration(this, fd, slot, generation, listener);
            _slots[slot] = registration;
        }
        Span<byte> ev = stackalloc byte[16];
        WriteEvent(ev, EpollIn | EpollOut | EpollRdHup | EpollEt, registration.Token);
        if (EpollCtl(_epoll, EpollCtlAdd, fd, ref MemoryMarshal.GetReference(ev)) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            Release(registration);
            throw new System.Net.Sockets.SocketException(errno);
        }
        return registration;
    }

    internal void Unregister(ReadinessRegistration registration, bool closing)
    {
        if (!closing)
        {
            Span<byte> ev = stackalloc byte[16];
            // Errors are of no interest: a descriptor already closed elsewhere left epoll by itself.
            _ = EpollCtl(_epoll, EpollCtlDel, registration.Fd, ref MemoryMarshal.GetReference(ev));
        }
        Release(registration);
    }

    private void Release(ReadinessRegistration registration)
    {
        lock (_gate)
        {
            // The slot keeps the registration (for its generation) but it no longer matches any token in flight.
            registration.Released = true;
            _free.Push(registration.Slot);
        }
    }

    private void WriteEvent(Span<byte> ev, uint events, ulong data)
    {
        MemoryMarshal.Write(ev, in events);
        MemoryMarshal.Write(ev[DataOffset..], in data);
    }

    private unsafe void Run()
    {
        var buffer = (byte*)NativeMemory.Alloc((nuint)(MaxEvents * EventSize));
        while (true)
        {
            var n = EpollWait(_epoll, buffer, MaxEvents, -1);
            if (n < 0)
            {
                if (Marshal.GetLastPInvokeError() == Eintr) continue;
                Environment.FailFast($"epoll_wait failed: errno {Marshal.GetLastPInvokeError()}");
            }
            var slots = Volatile.Read(ref _slots);
            for (var i = 0; i < n; i++)
            {
                var ev = buffer + i * EventSize;
                var events = *(uint*)ev;
                var token = *(ulong*)(ev + DataOffset);
                var slot = (int)(token & 0xFFFF_FFFF);
                if (slot >= slots.Length) slots = Volatile.Read(ref _slots);
                var registration = slots[slot];
                if (registration is null || registration.Token != token || registration.Released) continue; // stale
                if ((events & (EpollIn | EpollRdHup | EpollHup | EpollErr)) != 0) registration.SignalRead();
                if ((events & (EpollOut | EpollHup | EpollErr)) != 0) registration.SignalWrite();
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int EpollCreate1(int flags);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int EpollCtl(int epfd, int op, int fd, ref byte ev);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    private static unsafe partial int EpollWait(int epfd, byte* events, int maxEvents, int timeout);
}
