using System.Globalization;

namespace ShardRuntime.Runtime.Sockets;

/// <summary>
/// Where a datagram carries the id of its flow (a connection or session id), counted in bytes from the start of the
/// UDP payload: the bytes a flow-sticky steering program routes by (<see cref="ReuseportSteeringProgram.FlowSticky"/>).
/// For QUIC short-header packets the destination connection id starts at offset 1, with the length the server chose
/// for its ids (QUIC allows up to 20 bytes).
/// </summary>
public readonly record struct FlowIdLocation
{
    /// <summary>The longest id a program routes by (QUIC's longest connection id).</summary>
    public const int MaxLength = 20;

    /// <summary>The largest offset: the id must fit a UDP datagram (65,507 bytes of payload).</summary>
    public const int MaxEnd = 65507;

    /// <summary>An id of <paramref name="length"/> bytes at <paramref name="offset"/> of the payload; throws naming the value that is wrong.</summary>
    public FlowIdLocation(int offset, int length)
    {
        if (offset < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset, "The flow id's offset counts bytes from the start of the UDP payload and cannot be negative.");
        }

        if (length is < 1 or > MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"The flow id's length must be 1..{MaxLength} bytes.");
        }

        if (offset + length > MaxEnd)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"The flow id (offset {offset}, length {length}) ends past the largest UDP payload ({MaxEnd} bytes).");
        }

        Offset = offset;
        Length = length;
    }

    /// <summary>The id's first byte, from the start of the UDP payload.</summary>
    public int Offset { get; }

    /// <summary>The id's length in bytes.</summary>
    public int Length { get; }

    /// <summary>The shortest payload that holds the whole id.</summary>
    public int End => Offset + Length;

    /// <inheritdoc />
    public override string ToString() =>
        $"flow id at offset {Offset.ToString(CultureInfo.InvariantCulture)}, {Length.ToString(CultureInfo.InvariantCulture)} bytes";
}
