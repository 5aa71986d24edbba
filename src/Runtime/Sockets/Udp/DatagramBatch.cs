using System.Net.Sockets;
using System.Runtime.InteropServices;
using ShardRuntime.Runtime.Sockets.Readiness;
using static ShardRuntime.Runtime.Sockets.Udp.DatagramNative;

namespace ShardRuntime.Runtime.Sockets.Udp;

/// <summary>
/// A fixed set of datagram slots in native memory, filled by one <c>recvmmsg(2)</c> or emptied by one
/// <c>sendmmsg(2)</c>, so a UDP shard moves many datagrams per system call and allocates nothing per datagram: the
/// slots (<see cref="Capacity"/> × <see cref="MaxDatagramSize"/> bytes), one <c>sockaddr_storage</c> per slot and the
/// <c>iovec</c> and <c>mmsghdr</c> arrays are allocated once, here, and freed by <see cref="Dispose"/>.
/// <para>
/// A shard keeps one batch per direction. Receiving: <see cref="ReceiveFrom(int)"/> replaces the batch's contents with
/// what the socket holds now (up to <see cref="Capacity"/>, never waiting: MSG_DONTWAIT); read each with
/// <see cref="Payload"/> and <see cref="Peer"/> before the next receive overwrites it. Sending: <see cref="TryAdd"/>
/// (or <see cref="FreeSlot"/> + <see cref="Commit"/> to write a reply in place) queues datagrams with their
/// destination; <see cref="SendTo(int)"/> hands them to the kernel and keeps what it did not take (a full send buffer,
/// EAGAIN) for the next call, in order.
/// </para>
/// <para>
/// Errors: EAGAIN is "nothing now" (0 received, or the rest stays queued); EINTR is retried. A send the kernel refuses
/// for one datagram (EMSGSIZE, EAFNOSUPPORT for an IPv4 destination on an IPv6-only socket, EINVAL, ENETUNREACH,
/// EHOSTUNREACH, EPERM/EACCES from a firewall, ECONNREFUSED from an earlier ICMP error, ENOBUFS/ENOMEM under memory
/// pressure, which no writability edge would end) drops that datagram, counts it
/// (<see cref="Rejected"/>, <see cref="LastRejection"/>) and goes on with the next: one bad destination must not stall a
/// shard's replies. A receive that reports an earlier ICMP error (ECONNREFUSED, EHOSTUNREACH, ENETUNREACH) is retried:
/// the error is consumed by the report and the datagrams behind it are still there. Anything else concerns the socket
/// and throws <see cref="DatagramIoException"/> naming the call.
/// </para>
/// <para>
/// On an I/O loop: register the socket with the <see cref="ReadinessEngine"/> and, on every
/// <see cref="IReadinessListener.OnReadable"/>, run <see cref="ReceiveTurn"/>: it receives batches until the socket
/// is empty and then arms the registration (the next datagram wakes the shard again), or stops after a budget of
/// batches so one busy socket cannot keep the loop from its other sockets (then the shard posts itself another turn,
/// unarmed). Replies go out with <see cref="SendTo(int)"/>; when datagrams stay queued (EAGAIN) arm for write
/// (<see cref="ReadinessRegistration.ArmWrite"/>) and send again on <see cref="IReadinessListener.OnWritable"/>.
/// </para>
/// Not thread-safe: one owner (a shard, on its I/O loop).
/// </summary>
public sealed unsafe class DatagramBatch : IDisposable
{
    private const int HeaderSize = 64;
    private const int IoVecSize = 16;
    private const int MaxReceiveRetries = 8;

    private readonly byte* _memory;
    private readonly MMsgHdr* _headers;
    private readonly IoVec* _iovecs;
    private readonly byte* _addresses;
    private readonly byte* _payloads;
    private int _start;
    private int _end;
    private bool _disposed;

    /// <summary>
    /// Allocates <paramref name="capacity"/> slots of <paramref name="maxDatagramSize"/> bytes each. A received datagram
    /// longer than that is cut to it (<see cref="IsTruncated"/>); a UDP datagram carries at most 65,507 bytes.
    /// </summary>
    public DatagramBatch(int capacity, int maxDatagramSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, 1024); // UIO_MAXIOV: the kernel's limit on vlen
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDatagramSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxDatagramSize, 65535);
        Capacity = capacity;
        MaxDatagramSize = maxDatagramSize;
        nuint payloadStride = (nuint)AlignUp(maxDatagramSize, 8);
        nuint total = (nuint)capacity * (HeaderSize + IoVecSize + SockaddrStorageLength) + (nuint)capacity * payloadStride;
        _memory = (byte*)NativeMemory.AlignedAlloc(total, 64);
        NativeMemory.Clear(_memory, total);
        GC.AddMemoryPressure((long)total);
        AllocatedBytes = (long)total;
        _headers = (MMsgHdr*)_memory;
        _iovecs = (IoVec*)(_memory + capacity * HeaderSize);
        _addresses = (byte*)(_iovecs + capacity);
        _payloads = _addresses + capacity * SockaddrStorageLength;
        for (int i = 0; i < capacity; i++)
        {
            _iovecs[i].Base = _payloads + (nuint)i * payloadStride;
            _headers[i].Header.Name = _addresses + i * SockaddrStorageLength;
            _headers[i].Header.Iov = _iovecs + i;
            _headers[i].Header.IovLength = 1;
        }
    }

    /// <summary>How many datagrams one batch holds.</summary>
    public int Capacity { get; }

    /// <summary>The size of each slot: the longest datagram received whole, the longest one that can be queued.</summary>
    public int MaxDatagramSize { get; }

    /// <summary>The native memory the batch holds (allocated once).</summary>
    public long AllocatedBytes { get; }

    /// <summary>Datagrams held: received by the last <see cref="ReceiveFrom(int)"/>, or queued and not yet sent.</summary>
    public int Count => _end - _start;

    /// <summary>True when no slot is left to queue a datagram into (send <see cref="SendTo(int)"/> first).</summary>
    public bool IsFull => _end - _start == Capacity;

    /// <summary>Datagrams dropped because the kernel refused to send them (see the class remarks).</summary>
    public long Rejected { get; private set; }

    /// <summary>Why the last rejected datagram was refused (its errno's name), or null.</summary>
    public string? LastRejection { get; private set; }

    /// <summary>The bytes of datagram <paramref name="index"/> (0 .. <see cref="Count"/> - 1), valid until the batch changes.</summary>
    public ReadOnlySpan<byte> Payload(int index)
    {
        int slot = Slot(index);
        return new ReadOnlySpan<byte>(_iovecs[slot].Base, (int)_headers[slot].Length);
    }

    /// <summary>Where datagram <paramref name="index"/> came from (received) or goes to (queued).</summary>
    public DatagramPeer Peer(int index)
    {
        int slot = Slot(index);
        var sockaddr = new ReadOnlySpan<byte>(_headers[slot].Header.Name, (int)Math.Min(_headers[slot].Header.NameLength, SockaddrStorageLength));
        return DatagramPeer.TryRead(sockaddr, out var peer) ? peer : default;
    }

    /// <summary>True when received datagram <paramref name="index"/> was longer than a slot and was cut (MSG_TRUNC).</summary>
    public bool IsTruncated(int index) => (_headers[Slot(index)].Header.Flags & MsgTrunc) != 0;

    /// <summary>
    /// Forgets the queued datagrams after the first <paramref name="count"/> (those queued last), as when the code that
    /// queued them failed: they are never sent.
    /// </summary>
    public void TrimTo(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count < Count)
        {
            _end = _start + count;
        }
    }

    /// <summary>Forgets every datagram held (received or queued).</summary>
    public void Clear() => _start = _end = 0;

    /// <summary>
    /// Receives what is waiting on the non-blocking datagram socket <paramref name="fd"/>, up to <see cref="Capacity"/>
    /// datagrams, replacing the batch's contents. Returns how many; 0 when nothing waits (EAGAIN).
    /// </summary>
    public int ReceiveFrom(int fd)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Clear();
        for (int i = 0; i < Capacity; i++)
        {
            _headers[i].Header.NameLength = SockaddrStorageLength;
            _headers[i].Header.Flags = 0;
            _headers[i].Length = 0;
            _iovecs[i].Length = (nuint)MaxDatagramSize;
        }

        for (int retries = 0; ; )
        {
            int n = RecvMMsg(fd, _headers, (uint)Capacity, MsgDontWait, null);
            if (n >= 0)
            {
                _end = n;
                return n;
            }

            int errno = Marshal.GetLastPInvokeError();
            switch (errno)
            {
                case Eintr:
                    continue;
                case Eagain:
                    return 0;
                case 111 or 113 or 101 when ++retries <= MaxReceiveRetries: // a reported ICMP error, consumed by this report
                    continue;
                default:
                    throw new DatagramIoException("recvmmsg", errno, fd);
            }
        }
    }

    /// <summary><see cref="ReceiveFrom(int)"/> on <paramref name="socket"/>'s descriptor (kept open meanwhile).</summary>
    public int ReceiveFrom(Socket socket) => WithDescriptor(socket, this, static (fd, batch) => batch.ReceiveFrom(fd));

    /// <summary>
    /// One wake-up's worth of receiving on <paramref name="fd"/>, registered as <paramref name="registration"/>: up to
    /// <paramref name="maxBatches"/> batches, each handed to <paramref name="serve"/> (with <paramref name="state"/>: a
    /// static callback costs no allocation) before the next overwrites it. A batch that came back short of
    /// <see cref="Capacity"/> found the socket empty (recvmmsg stops at EAGAIN), so the registration is armed then,
    /// without another system call to see EAGAIN; an edge that came in between (<see cref="ReadinessRegistration.ArmRead"/>
    /// says false) means receive on. Returns <see cref="ReceiveTurnEnd.Armed"/> (wait for
    /// <see cref="IReadinessListener.OnReadable"/>) or <see cref="ReceiveTurnEnd.BudgetSpent"/> (not armed: run another
    /// turn soon, after the loop's other work). An exception from <paramref name="serve"/> or the receive leaves the
    /// registration unarmed.
    /// </summary>
    public ReceiveTurnEnd ReceiveTurn(ReadinessRegistration registration, int fd, int maxBatches, Action<DatagramBatch, object?> serve, object? state)
    {
        ArgumentNullException.ThrowIfNull(registration);
        ArgumentNullException.ThrowIfNull(serve);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatches, 1);
        for (int batches = 0; batches < maxBatches; batches++)
        {
            int seen = registration.ReadEdges;
            int n = ReceiveFrom(fd);
            if (n > 0)
            {
                serve(this, state);
            }

            if (n < Capacity && registration.ArmRead(seen))
            {
                return ReceiveTurnEnd.Armed;
            }
        }

        return ReceiveTurnEnd.BudgetSpent;
    }

    /// <summary>
    /// The free slot the next <see cref="Commit"/> queues, to write a datagram in place (<see cref="MaxDatagramSize"/>
    /// bytes). Throws when the batch is full.
    /// </summary>
    public Span<byte> FreeSlot
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (IsFull)
            {
                throw new InvalidOperationException($"The datagram batch is full ({Capacity} queued): send it before queuing more.");
            }

            if (_end == Capacity)
            {
                Compact();
            }

            return new Span<byte>(_iovecs[_end].Base, MaxDatagramSize);
        }
    }

    /// <summary>Queues the first <paramref name="length"/> bytes written to <see cref="FreeSlot"/>, for <paramref name="destination"/>.</summary>
    public void Commit(int length, in DatagramPeer destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, MaxDatagramSize);
        if (IsFull)
        {
            throw new InvalidOperationException($"The datagram batch is full ({Capacity} queued): send it before queuing more.");
        }

        if (_end == Capacity)
        {
            Compact();
        }

        ref MMsgHdr header = ref _headers[_end];
        header.Header.NameLength = (uint)destination.Write(new Span<byte>(header.Header.Name, SockaddrStorageLength));
        header.Header.Flags = 0;
        header.Length = (uint)length;
        _iovecs[_end].Length = (nuint)length;
        _end++;
    }

    /// <summary>
    /// Queues a copy of <paramref name="payload"/> for <paramref name="destination"/>. Returns false when the batch is
    /// full; throws when the payload is longer than a slot.
    /// </summary>
    public bool TryAdd(ReadOnlySpan<byte> payload, in DatagramPeer destination)
    {
        if (payload.Length > MaxDatagramSize)
        {
            throw new ArgumentException(
                $"A datagram of {payload.Length} bytes does not fit a slot of {MaxDatagramSize} bytes.", nameof(payload));
        }

        if (IsFull)
        {
            return false;
        }

        payload.CopyTo(FreeSlot);
        Commit(payload.Length, destination);
        return true;
    }

    /// <summary>
    /// Sends the queued datagrams on the non-blocking datagram socket <paramref name="fd"/>, in order, as far as the
    /// kernel takes them. Returns how many were sent; those not taken (EAGAIN: the send buffer is full, wait until the
    /// socket is writable) stay queued (<see cref="Count"/>). Rejected datagrams are dropped and counted.
    /// </summary>
    public int SendTo(int fd)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int sent = 0;
        while (_start < _end)
        {
            int n = SendMMsg(fd, _headers + _start, (uint)(_end - _start), MsgDontWait | MsgNoSignal);
            if (n > 0)
            {
                _start += n;
                sent += n;
                continue;
            }

            int errno = n == 0 ? Eagain : Marshal.GetLastPInvokeError();
            if (errno == Eintr)
            {
                continue;
            }

            if (errno == Eagain)
            {
                break;
            }

            if (!RejectsOneDatagram(errno))
            {
                throw new DatagramIoException("sendmmsg", errno, fd);
            }

            Rejected++;
            LastRejection = DatagramIoException.Name(errno);
            _start++;
        }

        if (_start == _end)
        {
            Clear();
        }

        return sent;
    }

    /// <summary><see cref="SendTo(int)"/> on <paramref name="socket"/>'s descriptor (kept open meanwhile).</summary>
    public int SendTo(Socket socket) => WithDescriptor(socket, this, static (fd, batch) => batch.SendTo(fd));

    /// <summary>Frees the native memory. Idempotent.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        NativeMemory.AlignedFree(_memory);
        GC.RemoveMemoryPressure(AllocatedBytes);
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the native memory of a batch its owner forgot to dispose.</summary>
    ~DatagramBatch()
    {
        if (!_disposed)
        {
            NativeMemory.AlignedFree(_memory);
            GC.RemoveMemoryPressure(AllocatedBytes);
        }
    }

    private static bool RejectsOneDatagram(int errno) =>
        // EPERM EACCES ENOMEM EINVAL EDESTADDRREQ EMSGSIZE EAFNOSUPPORT ENETUNREACH ENOBUFS ECONNREFUSED EHOSTUNREACH
        errno is 1 or 13 or 12 or 22 or 89 or 90 or 97 or 101 or 105 or 111 or 113;

    private static int AlignUp(int value, int alignment) => (value + alignment - 1) / alignment * alignment;

    private int Slot(int index)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if ((uint)index >= (uint)Count)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"The batch holds {Count} datagrams.");
        }

        return _start + index;
    }

    /// <summary>Moves the datagrams still queued (after a partial send) to the first slots.</summary>
    private void Compact()
    {
        for (int from = _start, to = 0; from < _end; from++, to++)
        {
            uint length = _headers[from].Length;
            Buffer.MemoryCopy(_iovecs[from].Base, _iovecs[to].Base, MaxDatagramSize, length);
            Buffer.MemoryCopy(_headers[from].Header.Name, _headers[to].Header.Name, SockaddrStorageLength, _headers[from].Header.NameLength);
            _headers[to].Header.NameLength = _headers[from].Header.NameLength;
            _headers[to].Length = length;
            _iovecs[to].Length = (nuint)length;
        }

        _end -= _start;
        _start = 0;
    }
}
