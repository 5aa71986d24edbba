using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace ShardRuntime.Runtime.Sockets.Udp;

/// <summary>
/// The address and port a datagram came from or goes to, IPv4 or IPv6, as a value: read from the kernel's
/// <c>sockaddr_in</c>/<c>sockaddr_in6</c> without allocating, compared and hashed without allocating, and turned into an
/// <see cref="IPEndPoint"/> only when asked (<see cref="ToEndPoint"/>, which allocates).
/// </summary>
public readonly struct DatagramPeer : IEquatable<DatagramPeer>
{
    /// <summary>AF_INET on Linux.</summary>
    internal const ushort AfInet = 2;

    /// <summary>AF_INET6 on Linux.</summary>
    internal const ushort AfInet6 = 10;

    /// <summary>sizeof(struct sockaddr_in).</summary>
    internal const int SockaddrInLength = 16;

    /// <summary>sizeof(struct sockaddr_in6).</summary>
    internal const int SockaddrIn6Length = 28;

    // The 16 address bytes in network order, as two native-endian words (IPv4: the 4 bytes at the start of _high's
    // memory, the rest zero). Only compared, hashed and copied back: their numeric value means nothing.
    private readonly ulong _high;
    private readonly ulong _low;
    private readonly uint _scopeId;
    private readonly ushort _port;
    private readonly ushort _family;

    private DatagramPeer(ushort family, ushort port, ulong high, ulong low, uint scopeId)
    {
        _family = family;
        _port = port;
        _high = high;
        _low = low;
        _scopeId = scopeId;
    }

    /// <summary><see cref="AddressFamily.InterNetwork"/> or <see cref="AddressFamily.InterNetworkV6"/>; <see cref="AddressFamily.Unspecified"/> for <c>default</c>.</summary>
    public AddressFamily Family => _family switch
    {
        AfInet => AddressFamily.InterNetwork,
        AfInet6 => AddressFamily.InterNetworkV6,
        _ => AddressFamily.Unspecified,
    };

    /// <summary>The port, in host order.</summary>
    public int Port => _port;

    /// <summary>The IPv6 scope (interface index) of a link-local peer; 0 otherwise.</summary>
    public uint ScopeId => _scopeId;

    /// <summary>The peer of <paramref name="endPoint"/> (no allocation).</summary>
    public static DatagramPeer FromEndPoint(IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        Span<byte> bytes = stackalloc byte[16];
        bytes.Clear();
        if (!endPoint.Address.TryWriteBytes(bytes, out _))
        {
            throw new ArgumentException($"The address of {endPoint} does not fit 16 bytes.", nameof(endPoint));
        }

        ushort family = endPoint.AddressFamily switch
        {
            AddressFamily.InterNetwork => AfInet,
            AddressFamily.InterNetworkV6 => AfInet6,
            _ => throw new ArgumentException($"{endPoint} is neither IPv4 nor IPv6.", nameof(endPoint)),
        };
        uint scope = family == AfInet6 ? (uint)endPoint.Address.ScopeId : 0;
        return new DatagramPeer(family, (ushort)endPoint.Port, MemoryMarshal.Read<ulong>(bytes), MemoryMarshal.Read<ulong>(bytes[8..]), scope);
    }

    /// <summary>
    /// The peer <paramref name="address"/> holds (an IPv4 or IPv6 <see cref="SocketAddress"/>: its buffer is the kernel's
    /// sockaddr), without allocating.
    /// </summary>
    /// <exception cref="ArgumentException">The address is neither IPv4 nor IPv6, or too short for its family.</exception>
    public static DatagramPeer FromSocketAddress(SocketAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return TryRead(address.Buffer.Span[..address.Size], out var peer)
            ? peer
            : throw new ArgumentException($"A {address.Family} address of {address.Size} bytes is no IPv4 or IPv6 peer.", nameof(address));
    }

    /// <summary>
    /// Writes the peer into <paramref name="address"/>, a <see cref="SocketAddress"/> of the peer's family (as a
    /// datagram socket's owner keeps one to hand to its handler), without allocating.
    /// </summary>
    /// <exception cref="ArgumentException">The address is of another family than the peer.</exception>
    public void WriteTo(SocketAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.Family != Family)
        {
            throw new ArgumentException($"A {Family} peer does not fit a {address.Family} address.", nameof(address));
        }

        address.Size = Write(address.Buffer.Span);
    }

    /// <summary>Writes the address bytes (network order) to <paramref name="destination"/>; returns how many (4 or 16).</summary>
    public int WriteAddressBytes(Span<byte> destination)
    {
        Span<byte> bytes = stackalloc byte[16];
        MemoryMarshal.Write(bytes, in _high);
        MemoryMarshal.Write(bytes[8..], in _low);
        int length = _family == AfInet ? 4 : _family == AfInet6 ? 16 : throw new InvalidOperationException("A default DatagramPeer has no address.");
        bytes[..length].CopyTo(destination);
        return length;
    }

    /// <summary>The peer as an <see cref="IPEndPoint"/> (allocates; for logs, replies through .NET sockets, tests).</summary>
    public IPEndPoint ToEndPoint()
    {
        Span<byte> bytes = stackalloc byte[16];
        int length = WriteAddressBytes(bytes);
        var address = length == 4 ? new IPAddress(bytes[..4]) : new IPAddress(bytes, _scopeId);
        return new IPEndPoint(address, _port);
    }

    /// <summary>
    /// Reads a <c>sockaddr_in</c> or <c>sockaddr_in6</c> (<paramref name="sockaddr"/>, as long as the kernel said) as the kernel wrote it.
    /// Returns false for any other family or a length too short for it.
    /// </summary>
    internal static bool TryRead(ReadOnlySpan<byte> sockaddr, out DatagramPeer peer)
    {
        peer = default;
        if (sockaddr.Length < 2)
        {
            return false;
        }

        ushort family = MemoryMarshal.Read<ushort>(sockaddr);
        if (family == AfInet && sockaddr.Length >= SockaddrInLength)
        {
            ulong high = MemoryMarshal.Read<uint>(sockaddr[4..]);
            if (!BitConverter.IsLittleEndian)
            {
                high <<= 32;
            }

            peer = new DatagramPeer(AfInet, BinaryPrimitives.ReadUInt16BigEndian(sockaddr[2..]), high, 0, 0);
            return true;
        }

        if (family == AfInet6 && sockaddr.Length >= SockaddrIn6Length)
        {
            peer = new DatagramPeer(
                AfInet6,
                BinaryPrimitives.ReadUInt16BigEndian(sockaddr[2..]),
                MemoryMarshal.Read<ulong>(sockaddr[8..]),
                MemoryMarshal.Read<ulong>(sockaddr[16..]),
                MemoryMarshal.Read<uint>(sockaddr[24..]));
            return true;
        }

        return false;
    }

    /// <summary>Writes the peer as a <c>sockaddr_in</c> or <c>sockaddr_in6</c>; returns its length.</summary>
    internal int Write(Span<byte> sockaddr)
    {
        if (_family == AfInet)
        {
            sockaddr[..SockaddrInLength].Clear();
            MemoryMarshal.Write(sockaddr, in _family);
            BinaryPrimitives.WriteUInt16BigEndian(sockaddr[2..], _port);
            WriteAddressBytes(sockaddr[4..]);
            return SockaddrInLength;
        }

        if (_family == AfInet6)
        {
            sockaddr[..SockaddrIn6Length].Clear();
            MemoryMarshal.Write(sockaddr, in _family);
            BinaryPrimitives.WriteUInt16BigEndian(sockaddr[2..], _port);
            MemoryMarshal.Write(sockaddr[8..], in _high);
            MemoryMarshal.Write(sockaddr[16..], in _low);
            MemoryMarshal.Write(sockaddr[24..], in _scopeId);
            return SockaddrIn6Length;
        }

        throw new InvalidOperationException("A default DatagramPeer is no destination.");
    }

    /// <inheritdoc />
    public bool Equals(DatagramPeer other) =>
        _high == other._high && _low == other._low && _port == other._port && _family == other._family && _scopeId == other._scopeId;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is DatagramPeer other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(_high, _low, _port, _family, _scopeId);

    /// <summary>Same address, port and family.</summary>
    public static bool operator ==(DatagramPeer left, DatagramPeer right) => left.Equals(right);

    /// <summary>Not the same address, port and family.</summary>
    public static bool operator !=(DatagramPeer left, DatagramPeer right) => !left.Equals(right);

    /// <summary>The peer as <c>address:port</c> (allocates).</summary>
    public override string ToString() => _family is AfInet or AfInet6 ? ToEndPoint().ToString() : "(no peer)";
}
