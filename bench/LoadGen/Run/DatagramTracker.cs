using ShardRuntime.LoadGen.Protocols;

namespace ShardRuntime.LoadGen.Run;

/// <summary>
/// The queries of one UDP flow (one client socket) and what became of them. Query numbers run 1, 2, 3, ... for the
/// life of the flow; number n sits in slot n mod 65536, which is also its 16-bit id (DNS), so an id names the latest
/// query sent with it. A slot is reused only when its query has ended (answered, lost or failed): when the next
/// number's slot still holds an outstanding query (one not answered in the last 65536 sends), that number is skipped.
/// With fewer than 65536 queries outstanding a free slot always exists, so a wrapped id never mixes up two queries in
/// flight: loss is counted exactly over any run length, and a duplicate is recognised as long as it arrives before its
/// slot is reused (65536 sends later on the same flow). Thread-safe: the sender, the receive loop and the watchdog
/// call it; the clock is passed in, so tests drive it without sockets.
/// </summary>
internal sealed class DatagramTracker
{
    /// <summary>Slots, one per 16-bit id.</summary>
    public const int Slots = 1 << 16;

    private const int Mask = Slots - 1;

    private enum State : byte
    {
        Free,
        Outstanding,
        Answered,
        Lost,
        Failed,
    }

    private readonly Lock _lock = new();
    private readonly long[] _number = new long[Slots];
    private readonly long[] _sentAt = new long[Slots];
    private readonly State[] _state = new State[Slots];
    private long _last;
    private long _oldest = 1;
    private int _outstanding;

    /// <summary>Queries sent and not yet answered, lost or failed.</summary>
    public int Outstanding
    {
        get
        {
            lock (_lock)
                return _outstanding;
        }
    }

    /// <summary>Numbers a new query sent at <paramref name="now"/> (its id is the number mod 65536); throws when 65535 are outstanding.</summary>
    public long Begin(long now)
    {
        lock (_lock)
        {
            if (_outstanding >= Slots - 1)
                throw new InvalidOperationException("65535 queries are outstanding on this flow: no id is free");
            long number;
            do
            {
                number = ++_last;
            }
            while (_state[number & Mask] == State.Outstanding);
            int slot = (int)(number & Mask);
            _number[slot] = number;
            _sentAt[slot] = now;
            _state[slot] = State.Outstanding;
            _outstanding++;
            return number;
        }
    }

    /// <summary>The query <paramref name="number"/> was not sent (the send failed); false when it had already ended.</summary>
    public bool Fail(long number)
    {
        lock (_lock)
        {
            int slot = (int)(number & Mask);
            if (_number[slot] != number || _state[slot] != State.Outstanding)
                return false;
            _state[slot] = State.Failed;
            _outstanding--;
            return true;
        }
    }

    /// <summary>
    /// Decides what <paramref name="reply"/>, received at <paramref name="now"/>, was. For an answered query,
    /// <paramref name="latencyTicks"/> is the time since its send (Stopwatch ticks); for a wrong one,
    /// <paramref name="wrongReason"/> says why.
    /// </summary>
    public DatagramMatch Settle(DatagramCodec codec, ReadOnlySpan<byte> reply, int flow, long now, out long latencyTicks, out string? wrongReason)
    {
        latencyTicks = 0;
        wrongReason = null;
        if (!codec.TryReadKey(reply, out long key))
            return DatagramMatch.Unmatched;
        lock (_lock)
        {
            int slot = (int)(key & Mask);
            long number = _number[slot];
            var state = _state[slot];
            if (state == State.Free || (codec.KeyIsFullNumber && (key <= 0 || key > number)))
                return DatagramMatch.Unmatched;
            if (codec.KeyIsFullNumber && key < number)
                return DatagramMatch.Late; // its slot was reused, so it had ended long ago
            switch (state)
            {
                case State.Answered:
                    return DatagramMatch.Duplicate;
                case State.Lost or State.Failed:
                    return DatagramMatch.Late;
            }
            _state[slot] = State.Answered;
            _outstanding--;
            wrongReason = codec.Check(reply, flow, number, _sentAt[slot]);
            latencyTicks = now - _sentAt[slot];
            return wrongReason is null ? DatagramMatch.Answered : DatagramMatch.Wrong;
        }
    }

    /// <summary>Ends as lost every query sent at or before <paramref name="now"/> - <paramref name="timeoutTicks"/> and still unanswered; returns how many.</summary>
    public int ExpireDue(long now, long timeoutTicks)
    {
        int lost = 0;
        lock (_lock)
        {
            // Queries are numbered in send order, so the oldest outstanding one is the first to expire.
            for (; _oldest <= _last; _oldest++)
            {
                int slot = (int)(_oldest & Mask);
                if (_number[slot] != _oldest || _state[slot] != State.Outstanding)
                    continue;
                if (now - _sentAt[slot] < timeoutTicks)
                    break;
                _state[slot] = State.Lost;
                _outstanding--;
                lost++;
            }
        }
        return lost;
    }
}
