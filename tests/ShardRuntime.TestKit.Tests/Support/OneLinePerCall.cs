using ShardRuntime.Runtime.Connections;

namespace ShardRuntime.TestKit.Tests;

/// <summary>
/// Answers the first whole line of what it is presented in capitals and consumes only that line: the rest waits for the
/// next call, which the runtime makes only when new bytes come (a handler must take every whole frame it has).
/// </summary>
internal sealed class OneLinePerCall : IConnectionHandler
{
    public int OnReceived(IConnectionContext context, ReadOnlySpan<byte> data)
    {
        var end = data.IndexOf((byte)'\n');
        if (end < 0) return 0;
        var line = data[..(end + 1)].ToArray();
        for (var i = 0; i < line.Length; i++)
            if (line[i] is >= (byte)'a' and <= (byte)'z') line[i] -= 'a' - 'A';
        context.Write(line);
        return line.Length;
    }
}
