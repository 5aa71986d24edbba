namespace ShardRuntime.Runtime.Sockets.Readiness;

/// <summary>
/// Called on the <see cref="ReadinessEngine"/>'s thread when an armed socket became ready. Must return at once. Each call
/// passes the state the socket was registered with (<see cref="ReadinessEngine.Register"/>), so that one listener
/// object can serve every socket of a kind and a socket costs no listener object of its own.
/// </summary>
public interface IReadinessListener
{
    /// <summary>Data, the peer's FIN or an error is there to be read.</summary>
    void OnReadable(object? state);

    /// <summary>Room in the send buffer (or an error) after a send found it full.</summary>
    void OnWritable(object? state);
}

/// <summary>
/// One socket's registration with the <see cref="ReadinessEngine"/>. Owned by one logical thread (an actor) that reads
/// and writes the socket itself, non-blocking, and arms the registration when it ran out of data or of send room:
/// <code>
/// var seen = registration.ReadEdges;
/// ... recv() until EAGAIN ...
/// if (!registration.ArmRead(seen)) retry now; else wait for OnReadable
/// </code>
/// </summary>
public sealed class ReadinessRegistration : IDisposable
{
    private readonly ReadinessEngine _engine;
    private readonly IReadinessListener _listener;
    private readonly object? _state;
    private int _readEdges;
    private int _writeEdges;
    private int _readArmed;
    private int _writeArmed;
    private volatile bool _released;
    private int _disposed;

    internal ReadinessRegistration(ReadinessEngine engine, int fd, int slot, int generation, IReadinessListener listener, object? state)
    {
        _engine = engine;
        _listener = listener;
        _state = state;
        Fd = fd;
        Slot = slot;
        Generation = generation;
    }

    internal int Fd { get; }

    internal int Slot { get; }

    internal int Generation { get; }

    /// <summary>
    /// What epoll hands back for this registration: its generation and slot. Computed, not stored: the listener's state
    /// took its 8 bytes, and a registration (one per connection) stays the size it was.
    /// </summary>
    internal ulong Token => ((ulong)(uint)Generation << 32) | (uint)Slot;

    internal bool Released
    {
        get => _released;
        set => _released = value;
    }

    /// <summary>How many input edges the engine has seen; read it before trying to receive.</summary>
    public int ReadEdges => Volatile.Read(ref _readEdges);

    /// <summary>How many output edges the engine has seen; read it before trying to send.</summary>
    public int WriteEdges => Volatile.Read(ref _writeEdges);

    /// <summary>
    /// After a receive found no data: asks to be told (<see cref="IReadinessListener.OnReadable"/>) of the next input.
    /// Returns false when input arrived since <paramref name="seenEdges"/> was read, and nobody will be told: receive again now.
    /// </summary>
    public bool ArmRead(int seenEdges) => Arm(ref _readArmed, ref _readEdges, seenEdges);

    /// <summary>After a send found no room: like <see cref="ArmRead"/>, for <see cref="IReadinessListener.OnWritable"/>.</summary>
    public bool ArmWrite(int seenEdges) => Arm(ref _writeArmed, ref _writeEdges, seenEdges);

    private static bool Arm(ref int armed, ref int edges, int seenEdges)
    {
        Interlocked.Exchange(ref armed, 1); // a full fence: the engine counts its edge before it looks at the arm
        if (Volatile.Read(ref edges) == seenEdges) return true;
        // An edge came in between. Take the arm back unless the engine already took it (then it tells the listener).
        return Interlocked.Exchange(ref armed, 0) == 0;
    }

    internal void SignalRead()
    {
        Interlocked.Increment(ref _readEdges);
        if (Volatile.Read(ref _readArmed) == 1 && Interlocked.Exchange(ref _readArmed, 0) == 1) _listener.OnReadable(_state);
    }

    internal void SignalWrite()
    {
        Interlocked.Increment(ref _writeEdges);
        if (Volatile.Read(ref _writeArmed) == 1 && Interlocked.Exchange(ref _writeArmed, 0) == 1) _listener.OnWritable(_state);
    }

    /// <summary>Leaves the engine (before the descriptor is closed). Idempotent.</summary>
    public void Dispose() => Release(closing: false);

    /// <summary>
    /// Leaves the engine because the descriptor is about to be closed, which takes it out of epoll by itself: no
    /// epoll_ctl(DEL), one system call less per connection. Only for a descriptor no other process holds (a close
    /// then ends the registration); an event already read for it is recognised as stale. Idempotent.
    /// </summary>
    public void ReleaseForClose() => Release(closing: true);

    private void Release(bool closing)
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) _engine.Unregister(this, closing);
    }
}
