using System.Runtime.InteropServices;

namespace ShardRuntime.Runtime.Sockets.Readiness;

/// <summary>
/// Tells connections when their sockets become readable or writable: an I/O loop of one epoll instance, edge-triggered,
/// watched by one dedicated thread. This is what lets a connection wait for data holding nothing but its registration
/// (no receive buffer, no pending .NET socket operation, no <see cref="System.Net.Sockets.SocketAsyncEventArgs"/>) and
/// be told in one hop: the loop's thread calls the connection's <see cref="IReadinessListener"/>, which tells its actor.
/// The loop also runs work posted to it (<see cref="Post(IThreadPoolWorkItem)"/>) between its waits, as nginx's workers do: an actor whose
/// dispatcher posts its mailbox runs here, so a wake-up reaches it without a thread switch.
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

    /// <summary>How many loops a process may have (one per core is the use; a loop index wraps around this).</summary>
    public const int MaxLoops = 256;

    private const ulong WakeToken = ulong.MaxValue;
    private const int WorkPerTurn = 4096;

    private static readonly ReadinessEngine?[] Loops = new ReadinessEngine?[MaxLoops];
    private static readonly object LoopsGate = new();

    // struct epoll_event is packed on x86-64 (12 bytes) and naturally aligned elsewhere (16 bytes).
    private static readonly int EventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;
    private static readonly int DataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    private readonly int _epoll;
    private readonly object _gate = new();
    private ReadinessRegistration?[] _slots = new ReadinessRegistration?[256];
    private readonly Stack<int> _free = new();
    private int _nextSlot;
    private readonly Thread _thread;
    private readonly int _wakeFd;
    private readonly System.Collections.Concurrent.ConcurrentQueue<LoopWork> _work = new();
    /// <summary>1 while the loop waits in epoll_wait with no work queued: a post from another thread must wake it.</summary>
    private int _sleeping;
    /// <summary>1 from a wake-up written to the eventfd until the loop has read it (one write is enough).</summary>
    private int _wakeWritten;
    /// <summary>Turns the loop has begun (written by the loop only): see <see cref="Turns"/>.</summary>
    private long _turns;

    private ReadinessEngine(int index)
    {
        Index = index;
        _epoll = EpollCreate1(EpollCloexec);
        if (_epoll < 0) throw new System.Net.Sockets.SocketException(Marshal.GetLastPInvokeError());
        _wakeFd = EventFd(0, EfdNonBlock | EfdCloexec);
        if (_wakeFd < 0) throw new System.Net.Sockets.SocketException(Marshal.GetLastPInvokeError());
        Span<byte> ev = stackalloc byte[16];
        WriteEvent(ev, EpollIn, WakeToken); // level-triggered: it stays ready until the loop reads it
        if (EpollCtl(_epoll, EpollCtlAdd, _wakeFd, ref MemoryMarshal.GetReference(ev)) != 0)
            throw new System.Net.Sockets.SocketException(Marshal.GetLastPInvokeError());
        // Linux keeps 15 characters of a thread's name.
        _thread = new Thread(Run) { IsBackground = true, Name = $"shardrt-io-{index}" };
        _thread.Start();
    }

    /// <summary>
    /// The process's I/O loop number <paramref name="index"/> (modulo <see cref="MaxLoops"/>), started on first use; loops
    /// live as long as the process and are shared by every actor system in it.
    /// </summary>
    public static ReadinessEngine Loop(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        index %= MaxLoops;
        var loop = Volatile.Read(ref Loops[index]);
        if (loop is not null) return loop;
        lock (LoopsGate) return Loops[index] ??= new ReadinessEngine(index);
    }

    /// <summary>Which loop this is.</summary>
    public int Index { get; }

    /// <summary>The loops started so far (by <see cref="Loop"/>), in index order.</summary>
    public static IReadOnlyList<ReadinessEngine> Started
    {
        get
        {
            var started = new List<ReadinessEngine>();
            for (var i = 0; i < Loops.Length; i++)
                if (Volatile.Read(ref Loops[i]) is { } running) started.Add(running);
            return started;
        }
    }

    /// <summary>
    /// How many turns (an epoll_wait, its events, then queued work) the loop has begun. A loop that is not
    /// <see cref="IsWaiting"/> and whose count stays the same is held up inside one turn: work on it blocks (see
    /// <see cref="LoopWatchdog"/>).
    /// </summary>
    public long Turns => Volatile.Read(ref _turns);

    /// <summary>True while the loop waits in epoll_wait with nothing queued (idle, not held up).</summary>
    public bool IsWaiting => Volatile.Read(ref _sleeping) == 1;

    /// <summary>
    /// Runs <paramref name="work"/> on the loop's thread, after the events it is handling (from the loop itself) or as
    /// soon as it wakes (from another thread, which wakes it when it waits). In order of posting per posting thread.
    /// Work must not block: everything else on the loop waits for it.
    /// </summary>
    public void Post(IThreadPoolWorkItem work)
    {
        ArgumentNullException.ThrowIfNull(work);
        Enqueue(new LoopWork(work, null, null));
    }

    /// <summary>
    /// Like <see cref="Post(IThreadPoolWorkItem)"/>, for a callback with the state it works on: a static callback serves
    /// every object of a kind, so posting costs no work-item object per post or per poster.
    /// </summary>
    public void Post(Action<object?> callback, object? state)
    {
        ArgumentNullException.ThrowIfNull(callback);
        Enqueue(new LoopWork(null, callback, state));
    }

    private void Enqueue(LoopWork work)
    {
        _work.Enqueue(work);
        if (Thread.CurrentThread == _thread) return; // the loop looks at its queue before it waits again
        Interlocked.MemoryBarrier(); // the item is queued before we look whether the loop sleeps (it does the opposite)
        if (Volatile.Read(ref _sleeping) == 1 && Interlocked.Exchange(ref _wakeWritten, 1) == 0) Wake();
    }

    private unsafe void Wake()
    {
        ulong one = 1;
        // EAGAIN (the counter is full) cannot happen with one write per wake-up; any error leaves the loop to its next event.
        _ = Write(_wakeFd, &one, 8);
    }

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
    /// return at once (tell an actor, nothing more); it is passed <paramref name="state"/>. Dispose the registration
    /// before closing the descriptor.
    /// </summary>
    public ReadinessRegistration Register(int fd, IReadinessListener listener, object? state = null)
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
            registration = new ReadinessRegistration(this, fd, slot, generation, listener, state);
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
            // Sleep only with nothing queued; a post from another thread sees _sleeping and wakes us (the fences order
            // our flag before our look at the queue, and its item before its look at the flag).
            Interlocked.Exchange(ref _sleeping, 1);
            var timeout = _work.IsEmpty ? -1 : 0;
            var n = EpollWait(_epoll, buffer, MaxEvents, timeout);
            Interlocked.Exchange(ref _sleeping, 0);
            Volatile.Write(ref _turns, _turns + 1);
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
                if (token == WakeToken)
                {
                    ulong count;
                    _ = Read(_wakeFd, &count, 8);
                    Volatile.Write(ref _wakeWritten, 0);
                    continue;
                }
                var slot = (int)(token & 0xFFFF_FFFF);
                if (slot >= slots.Length) slots = Volatile.Read(ref _slots);
                var registration = slots[slot];
                if (registration is null || registration.Token != token || registration.Released) continue; // stale
                if ((events & (EpollIn | EpollRdHup | EpollHup | EpollErr)) != 0) registration.SignalRead();
                if ((events & (EpollOut | EpollHup | EpollErr)) != 0) registration.SignalWrite();
            }
            RunWork();
        }
    }

    /// <summary>
    /// Runs what was queued when the turn began (at most <see cref="WorkPerTurn"/> items), so that the sockets' events
    /// are looked at again between rounds: work that posts more work (an actor telling one on this loop, a connection
    /// that yields to read on) goes on in the next turn, after the events that came meanwhile, and a few busy
    /// connections cannot keep the loop from the others.
    /// </summary>
    private void RunWork()
    {
        var due = Math.Min(WorkPerTurn, _work.Count);
        for (var i = 0; i < due && _work.TryDequeue(out var work); i++)
        {
            try
            {
                if (work.Item is { } item) item.Execute();
                else work.Callback!(work.State);
            }
            catch (Exception e)
            {
                // Never lose the loop to one work item (an actor's mailbox run catches its actor's failures itself).
                Console.Error.WriteLine($"shardruntime: work on I/O loop {Index} failed: {e}");
            }
        }
    }

    /// <summary>One queued piece of work: an item, or a callback and its state.</summary>
    private readonly record struct LoopWork(IThreadPoolWorkItem? Item, Action<object?>? Callback, object? State);

    private const int EfdNonBlock = 0x800;
    private const int EfdCloexec = 0x80000;

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    private static partial int EventFd(uint initval, int flags);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static unsafe partial nint Write(int fd, void* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static unsafe partial nint Read(int fd, void* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int EpollCreate1(int flags);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int EpollCtl(int epfd, int op, int fd, ref byte ev);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    private static unsafe partial int EpollWait(int epfd, byte* events, int maxEvents, int timeout);
}
