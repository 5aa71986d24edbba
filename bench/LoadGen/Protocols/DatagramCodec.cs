namespace ShardRuntime.LoadGen.Protocols;

/// <summary>
/// Writes UDP queries and checks their replies for one protocol. A flow numbers its queries 1, 2, 3, ...; query n goes
/// out with the 16-bit id n mod 65536 (and, where the protocol has room, all of n). A reply names its query by a key
/// (<see cref="TryReadKey"/>): all of n when <see cref="KeyIsFullNumber"/>, else the 16-bit id. Stateless, so one
/// instance serves every flow of a run.
/// </summary>
internal abstract class DatagramCodec
{
    /// <summary>The most bytes <see cref="WriteQuery"/> writes.</summary>
    public abstract int MaxQueryBytes { get; }

    /// <summary>True when the key of a reply is the whole query number, false when it is only its 16-bit id.</summary>
    public abstract bool KeyIsFullNumber { get; }

    /// <summary>Writes query <paramref name="number"/> of flow <paramref name="flow"/>, sent at <paramref name="sentAt"/> (Stopwatch ticks); returns its length.</summary>
    public abstract int WriteQuery(Span<byte> destination, int flow, long number, long sentAt);

    /// <summary>Reads which query <paramref name="reply"/> answers; false when it names none (too short to say).</summary>
    public abstract bool TryReadKey(ReadOnlySpan<byte> reply, out long key);

    /// <summary>Checks <paramref name="reply"/> against the query it names; null when it is the right reply, else one of <see cref="WrongReasons"/>.</summary>
    public abstract string? Check(ReadOnlySpan<byte> reply, int flow, long number, long sentAt);
}
