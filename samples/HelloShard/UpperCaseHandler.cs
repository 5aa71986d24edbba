using ShardRuntime.Runtime.Connections;

namespace HelloShard;

/// <summary>Makes the handler of each connection; "upper" is the name listeners use.</summary>
public sealed class UpperCaseFactory : IConnectionHandlerFactory
{
    public string Name => "upper";

    public IConnectionHandler Create(IConnectionContext context) => new UpperCaseHandler();
}

/// <summary>Answers every line with the same line in capitals (ASCII letters only).</summary>
public sealed class UpperCaseHandler : IConnectionHandler
{
    public int OnReceived(IConnectionContext context, ReadOnlySpan<byte> data)
    {
        var end = data.LastIndexOf((byte)'\n');
        if (end < 0) return 0;                               // no whole line yet: presented again with more bytes
        var reply = data[..(end + 1)].ToArray();
        for (var i = 0; i < reply.Length; i++)
            if (reply[i] is >= (byte)'a' and <= (byte)'z') reply[i] -= 'a' - 'A';
        context.Write(reply);                                // flushed after this call
        return reply.Length;                                 // consumed; the rest is presented again
    }
}
