using System.Buffers;

namespace ShardRuntime.Actors.Connections;

/// <summary>
/// Bytes written by a handler and not yet sent, in buffers rented from the shared pool. Small writes are packed
/// into one buffer, so pipelined replies leave in one send. Every buffer goes back to the pool once sent or on
/// <see cref="Clear"/>. Not thread-safe: owned by one connection actor.
/// </summary>
internal sealed class WriteQueue
{
    private const int SegmentSize = 4096;

    private struct Segment
    {
        public byte[] Buffer;
        public int Start;
        public int End;
    }

    private Segment[] _ring = new Segment[2];
    private int _head;
    private int _count;

    /// <summary>Bytes queued and not yet sent.</summary>
    public int Pending { get; private set; }

    public bool IsEmpty => Pending == 0;

    public void Append(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            if (_count > 0)
            {
                ref var tail = ref _ring[(_head + _count - 1) % _ring.Length];
                var free = tail.Buffer.Length - tail.End;
                if (free > 0)
                {
                    var n = Math.Min(free, data.Length);
                    data[..n].CopyTo(tail.Buffer.AsSpan(tail.End));
                    tail.End += n;
                    Pending += n;
                    data = data[n..];
                    continue;
                }
            }
            AddSegment(ArrayPool<byte>.Shared.Rent(Math.Max(SegmentSize, Math.Min(data.Length, 1024 * 1024))));
        }
    }

    /// <summary>The first unsent bytes, as one contiguous piece of a pooled buffer.</summary>
    public ArraySegment<byte> Head
    {
        get
        {
            if (_count == 0) return ArraySegment<byte>.Empty;
            ref var s = ref _ring[_head];
            return new ArraySegment<byte>(s.Buffer, s.Start, s.End - s.Start);
        }
    }

    /// <summary>Marks <paramref name="sent"/> bytes from the head as sent; empty buffers go back to the pool.</summary>
    public void Advance(int sent)
    {
        while (sent > 0 && _count > 0)
        {
            ref var s = ref _ring[_head];
            var n = Math.Min(sent, s.End - s.Start);
            s.Start += n;
            sent -= n;
            Pending -= n;
            if (s.Start == s.End)
            {
                // An idle connection holds no buffer: each one goes back to the pool as soon as it is sent.
                ArrayPool<byte>.Shared.Return(s.Buffer);
                s = default;
                _head = (_head + 1) % _ring.Length;
                _count--;
            }
        }
    }

    /// <summary>Drops everything queued and returns the buffers to the pool.</summary>
    public void Clear()
    {
        while (_count > 0)
        {
            ref var s = ref _ring[_head];
            ArrayPool<byte>.Shared.Return(s.Buffer);
            s = default;
            _head = (_head + 1) % _ring.Length;
            _count--;
        }
        _head = 0;
        Pending = 0;
    }

    private void AddSegment(byte[] buffer)
    {
        if (_count == _ring.Length)
        {
            var bigger = new Segment[_ring.Length * 2];
            for (var i = 0; i < _count; i++) bigger[i] = _ring[(_head + i) % _ring.Length];
            _ring = bigger;
            _head = 0;
        }
        _ring[(_head + _count) % _ring.Length] = new Segment { Buffer = buffer, Start = 0, End = 0 };
        _count++;
    }
}
