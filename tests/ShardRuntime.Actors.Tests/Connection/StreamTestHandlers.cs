using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Text;
using Akka.Actor;
using ShardRuntime.Actors.Connections;
using ShardRuntime.Runtime.Connections;

namespace ShardRuntime.Actors.Tests.Connection;

/// <summary>
/// An async handler that records what happened to its connections (tokens cancelled, how it ended) and behaves as the
/// first line it reads says: "flood" writes 16 KiB chunks and flushes until the connection goes (counting what each
/// flush let through), "wait" waits until the connection is aborted (it ignores Draining), "boom" throws, "bye" writes
/// "bye" without flushing and returns, "actor" writes its connection actor's messages back, anything else is echoed
/// line by line.
/// </summary>
internal sealed class ScriptedStreamFactory : IStreamConnectionHandlerFactory
{
    public string Name => "scripted";

    public long Flushed;
    public readonly ConcurrentQueue<string> Events = new();
    public readonly TaskCompletionSource<IActorRef> ActorOfConnection = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public readonly TaskCompletionSource<TimeSpan> AbortedAfter = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public readonly TaskCompletionSource DrainingSeen = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public IStreamConnectionHandler Create(IStreamConnection connection) => new Handler(this);

    private sealed class Handler(ScriptedStreamFactory f) : IStreamConnectionHandler
    {
        public async Task RunAsync(IStreamConnection connection)
        {
            var started = System.Diagnostics.Stopwatch.StartNew();
            connection.Aborted.Register(() => f.AbortedAfter.TrySetResult(started.Elapsed));
            connection.Draining.Register(() => f.DrainingSeen.TrySetResult());
            var input = connection.Transport.Input;
            var output = connection.Transport.Output;
            while (true)
            {
                var result = await input.ReadAsync();
                var buffer = result.Buffer;
                var newline = buffer.PositionOf((byte)'\n');
                if (newline is null)
                {
                    input.AdvanceTo(buffer.Start, buffer.End);
                    if (result.IsCompleted) return;
                    continue;
                }
                var line = Encoding.ASCII.GetString(buffer.Slice(0, newline.Value));
                input.AdvanceTo(buffer.GetPosition(1, newline.Value));
                f.Events.Enqueue(line);
                switch (line)
                {
                    case "flood":
                        await FloodAsync(output, connection.Aborted);
                        return;
                    case "wait":
                        await Task.Delay(Timeout.Infinite, connection.Aborted).ContinueWith(_ => { });
                        return;
                    case "boom":
                        throw new InvalidOperationException("boom requested by the test");
                    case "bye":
                        output.Write("bye"u8);
                        return;
                    case "actor":
                        f.ActorOfConnection.TrySetResult(connection.GetFeature<IConnectionActorFeature>()!.Self);
                        var messages = connection.GetFeature<IConnectionMessagesFeature>()!.Messages;
                        await foreach (var message in messages.ReadAllAsync(connection.Aborted))
                        {
                            await output.WriteAsync(Encoding.ASCII.GetBytes($"{message}\n"));
                            if (message is "last") return;
                        }
                        return;
                    default:
                        await output.WriteAsync(Encoding.ASCII.GetBytes(line + "\n"));
                        break;
                }
            }
        }

        private async Task FloodAsync(PipeWriter output, CancellationToken aborted)
        {
            var chunk = new byte[16 * 1024];
            while (!aborted.IsCancellationRequested)
            {
                await output.WriteAsync(chunk, aborted); // writes and flushes: waits while the peer does not read
                Interlocked.Add(ref f.Flushed, chunk.Length);
            }
        }
    }
}

/// <summary>A stream layer double: lets the handler's bytes in as they are and adds one to every byte it writes out.</summary>
internal sealed class PlusOneLayer : IConnectionStreamLayer
{
    public int Wrapped;

    public ValueTask<Stream> WrapAsync(Stream inner, IStreamConnection connection, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Wrapped);
        return ValueTask.FromResult<Stream>(new PlusOneStream(inner));
    }

    private sealed class PlusOneStream(Stream inner) : Stream
    {
        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var shifted = buffer.ToArray();
            for (var i = 0; i < shifted.Length; i++) shifted[i]++;
            return inner.WriteAsync(shifted, cancellationToken);
        }
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override void Flush() { }
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
