using System.Text;
using ShardRuntime.Runtime.Connections;

namespace ShardRuntime.Actors.Tests.Support;

/// <summary>Echoes, but throws on the word "boom": proves a handler failure closes only its own connection.</summary>
internal sealed class ThrowingEchoFactory : IConnectionHandlerFactory
{
    public string Name => "throwing-echo";

    public IConnectionHandler Create(IConnectionContext context) => new Handler();

    private sealed class Handler : IConnectionHandler
    {
        public int OnReceived(IConnectionContext context, ReadOnlySpan<byte> data)
        {
            if (data.IndexOf("boom"u8) >= 0) throw new InvalidOperationException("boom requested by the test");
            context.Write(data);
            return data.Length;
        }
    }
}

/// <summary>On every byte received, writes <see cref="ReplyBytes"/> bytes: a fast writer for slow-reader specs.</summary>
internal sealed class FloodFactory(int replyBytes) : IConnectionHandlerFactory
{
    public int ReplyBytes { get; } = replyBytes;

    public string Name => "flood";

    public IConnectionHandler Create(IConnectionContext context) => new Handler(ReplyBytes);

    private sealed class Handler(int replyBytes) : IConnectionHandler
    {
        private static readonly byte[] Chunk = Encoding.ASCII.GetBytes(new string('x', 64 * 1024));

        public int OnReceived(IConnectionContext context, ReadOnlySpan<byte> data)
        {
            for (var i = 0; i < data.Length; i++)
            {
                for (var left = replyBytes; left > 0; left -= Chunk.Length)
                    context.Write(Chunk.AsSpan(0, Math.Min(left, Chunk.Length)));
            }
            return data.Length;
        }
    }
}

/// <summary>Records OnClosed reasons, for specs that check why a connection ended.</summary>
internal sealed class RecordingEchoFactory : IConnectionHandlerFactory
{
    public readonly System.Collections.Concurrent.ConcurrentQueue<ConnectionCloseReason> Closed = new();

    public string Name => "recording-echo";

    public IConnectionHandler Create(IConnectionContext context) => new Handler(this);

    private sealed class Handler(RecordingEchoFactory owner) : IConnectionHandler
    {
        public int OnReceived(IConnectionContext context, ReadOnlySpan<byte> data)
        {
            context.Write(data);
            return data.Length;
        }

        public void OnClosed(IConnectionContext context, ConnectionCloseReason reason) => owner.Closed.Enqueue(reason);
    }
}

/// <summary>Counts reads and, on the Nth, writes "bye" and closes: a handler ending a connection while the peer streams.</summary>
internal sealed class CloseOnNthReadFactory(int n) : IConnectionHandlerFactory
{
    public readonly System.Collections.Concurrent.ConcurrentQueue<ConnectionCloseReason> Closed = new();

    public string Name => "close-on-nth";

    public IConnectionHandler Create(IConnectionContext context) => new Handler(n, this);

    private sealed class Handler(int n, CloseOnNthReadFactory owner) : IConnectionHandler
    {
        private int _reads;

        public void OnClosed(IConnectionContext context, ConnectionCloseReason reason) => owner.Closed.Enqueue(reason);

        public int OnReceived(IConnectionContext context, ReadOnlySpan<byte> data)
        {
            if (++_reads == n)
            {
                context.Write("bye"u8);
                context.Close();
            }
            return data.Length;
        }
    }
}

/// <summary>Echoes with its handler generation in front ("2:data"): shows which generation serves a connection.</summary>
internal sealed class GenerationEchoFactory : IConnectionHandlerFactory
{
    public string Name => "generation-echo";

    public IConnectionHandler Create(IConnectionContext context) => new Handler();

    private sealed class Handler : IConnectionHandler
    {
        public int OnReceived(IConnectionContext context, ReadOnlySpan<byte> data)
        {
            context.Write(Encoding.ASCII.GetBytes($"{context.HandlerGeneration}:"));
            context.Write(data);
            return data.Length;
        }
    }
}

/// <summary>Answers every byte with "shard:thread-name\n": where a span handler ran (the loop-thread specs).</summary>
internal sealed class WhereFactory : IConnectionHandlerFactory
{
    public const string HandlerName = "where";

    public string Name => HandlerName;

    public IConnectionHandler Create(IConnectionContext context) => new Handler();

    private sealed class Handler : IConnectionHandler
    {
        public int OnReceived(IConnectionContext context, ReadOnlySpan<byte> data)
        {
            for (var i = 0; i < data.Length; i++)
                context.Write(Encoding.ASCII.GetBytes($"{context.ShardId}:{Thread.CurrentThread.Name}\n"));
            return data.Length;
        }
    }
}
