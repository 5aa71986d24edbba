namespace ShardRuntime.LoadGen.Protocols;

/// <summary>
/// Writes requests and recognises their replies for one protocol. Stateless between calls, so one instance serves
/// every connection of a run; a connection keeps its own bytes and calls <see cref="TryParse"/> again as more arrive.
/// </summary>
internal abstract class ReplyCodec
{
    /// <summary>The most bytes <see cref="WriteRequest"/> writes.</summary>
    public abstract int MaxRequestBytes { get; }

    /// <summary>Writes request number <paramref name="sequence"/> into <paramref name="destination"/>; returns its length.</summary>
    public abstract int WriteRequest(Span<byte> destination, long sequence);

    /// <summary>
    /// Looks for the reply to request <paramref name="sequence"/> at the start of <paramref name="data"/>.
    /// <paramref name="eof"/>: the peer has closed, no more bytes will come. False: more bytes are needed.
    /// </summary>
    public abstract bool TryParse(ReadOnlySpan<byte> data, long sequence, bool eof, out ParsedReply reply);
}
