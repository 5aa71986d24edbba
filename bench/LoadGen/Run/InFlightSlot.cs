using System.Net.Sockets;
using System.Text;

namespace ShardRuntime.LoadGen.Run;

/// <summary>
/// One unit of work in flight: a churn attempt or a keep-alive connection. It holds its buffers (reused, never
/// allocated per request), the requests awaiting replies, and a deadline that the run's watchdog enforces by
/// disposing the socket: no timer or cancellation source per request.
/// </summary>
internal sealed class InFlightSlot
{
    private const long Idle = long.MaxValue;
    private const long Expired = -1;
    private const int MaxReceiveBytes = 4 << 20;

    private long _deadline = Idle;
    private Socket? _socket;
    private readonly long[] _sequences;
    private readonly long[] _sentAt;
    private int _head;
    private byte[] _lastGeneration = new byte[64];
    private int _lastGenerationLength;

    public InFlightSlot(int sendBytes, int receiveBytes, int pipeline)
    {
        Send = new byte[sendBytes];
        Receive = new byte[receiveBytes];
        _sequences = new long[pipeline];
        _sentAt = new long[pipeline];
    }

    public byte[] Send { get; }

    public byte[] Receive { get; private set; }

    /// <summary>Requests sent and not yet answered.</summary>
    public int Outstanding { get; private set; }

    /// <summary>The generation value of this connection's first reply; null before it.</summary>
    public string? Generation { get; private set; }

    public bool IsExpired => Volatile.Read(ref _deadline) == Expired;

    /// <summary>Starts watching <paramref name="socket"/> with a new deadline (a new connection).</summary>
    public void Arm(Socket socket, long deadline)
    {
        Volatile.Write(ref _socket, socket);
        Volatile.Write(ref _deadline, deadline);
    }

    /// <summary>Moves the deadline; false when the watchdog expired it first.</summary>
    public bool Rearm(long deadline)
    {
        long seen;
        while ((seen = Volatile.Read(ref _deadline)) != Expired)
        {
            if (Interlocked.CompareExchange(ref _deadline, deadline, seen) == seen)
                return true;
        }
        return false;
    }

    /// <summary>Stops watching; false when the watchdog expired the deadline first (the attempt timed out).</summary>
    public bool Disarm()
    {
        long previous = Interlocked.Exchange(ref _deadline, Idle);
        Volatile.Write(ref _socket, null);
        return previous != Expired;
    }

    /// <summary>Called by the watchdog: past its deadline, the slot expires and its socket is disposed.</summary>
    public void ExpireIfDue(long now)
    {
        long deadline = Volatile.Read(ref _deadline);
        if (deadline == Idle || deadline == Expired || now < deadline)
            return;
        if (Interlocked.CompareExchange(ref _deadline, Expired, deadline) == deadline)
            Volatile.Read(ref _socket)?.Dispose();
    }

    /// <summary>Forgets the previous connection's requests and generation.</summary>
    public void ResetConnection()
    {
        _head = 0;
        Outstanding = 0;
        Generation = null;
        _mixed = false;
    }

    public void Push(long sequence, long sentAt)
    {
        int index = (_head + Outstanding) % _sequences.Length;
        _sequences[index] = sequence;
        _sentAt[index] = sentAt;
        Outstanding++;
    }

    public long OldestSequence => _sequences[_head];

    public long OldestSentAt => _sentAt[_head];

    public void Pop()
    {
        _head = (_head + 1) % _sequences.Length;
        Outstanding--;
    }

    /// <summary>Makes room after <paramref name="used"/> bytes for another read; false when the reply is too large.</summary>
    public bool EnsureRoom(int used)
    {
        if (used < Receive.Length)
            return true;
        if (Receive.Length >= MaxReceiveBytes)
            return false;
        var larger = new byte[Receive.Length * 2];
        Receive.AsSpan(0, used).CopyTo(larger);
        Receive = larger;
        return true;
    }

    /// <summary>The string for a generation value, allocated only when it differs from the last one seen on this slot.</summary>
    public string GenerationString(ReadOnlySpan<byte> value)
    {
        if (_lastGenerationString is not null && value.SequenceEqual(_lastGeneration.AsSpan(0, _lastGenerationLength)))
            return _lastGenerationString;
        if (value.Length > _lastGeneration.Length)
            _lastGeneration = new byte[value.Length];
        value.CopyTo(_lastGeneration);
        _lastGenerationLength = value.Length;
        return _lastGenerationString = Encoding.ASCII.GetString(value);
    }

    /// <summary>
    /// Notes a generation value seen on this connection: <paramref name="first"/> when it is the connection's first,
    /// <paramref name="mixed"/> when it is the first value that differs from the connection's first.
    /// </summary>
    public void NoteGeneration(string value, out bool first, out bool mixed)
    {
        first = Generation is null;
        mixed = false;
        if (first)
        {
            Generation = value;
        }
        else if (!_mixed && !string.Equals(value, Generation, StringComparison.Ordinal))
        {
            _mixed = true;
            mixed = true;
        }
    }

    private bool _mixed;
    private string? _lastGenerationString;
}
