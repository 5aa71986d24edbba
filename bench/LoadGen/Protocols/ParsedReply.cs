namespace ShardRuntime.LoadGen.Protocols;

/// <summary>
/// One complete reply found by <see cref="ReplyCodec.TryParse"/>.
/// </summary>
/// <param name="Consumed">Bytes of the reply, from the start of the data.</param>
/// <param name="WrongReason">Null for a right reply, else one of <see cref="WrongReasons"/>.</param>
/// <param name="Framed">False when the stream can no longer be split into replies (malformed): the connection is done.</param>
/// <param name="CloseAfter">The server said it closes the connection after this reply (Connection: close, or a body read to EOF).</param>
/// <param name="GenerationStart">Offset of the generation header's value, -1 when absent.</param>
/// <param name="GenerationLength">Length of the generation header's value.</param>
internal readonly record struct ParsedReply(
    int Consumed, string? WrongReason, bool Framed, bool CloseAfter, int GenerationStart, int GenerationLength);
