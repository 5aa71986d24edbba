using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using ShardRuntime.Runtime.Connections;

namespace ShardRuntime.TestKit;

/// <summary>
/// A connection without a socket, to unit-test an async handler (<see cref="IStreamConnectionHandler"/>): an in-memory
/// duplex pipe. <see cref="Run(IStreamConnectionHandler)"/> starts the handler's <see cref="IStreamConnectionHandler.RunAsync"/>
/// on the thread pool, as the runtime does; the test plays the client through <see cref="SendAsync(ReadOnlyMemory{byte}, CancellationToken)"/>,
/// <see cref="EndInputAsync"/>, <see cref="ReceiveAsync"/> and <see cref="ReceiveToEndAsync"/> (or the raw
/// <see cref="Client"/> pipe), and plays the node with <see cref="Drain"/> and <see cref="Reset"/>. As in the runtime:
/// the handler returning ends the connection gracefully (what it wrote is flushed, then the client reads the end of the
/// stream); an exception that escapes aborts this connection (kept in <see cref="HandlerFailure"/>; the client's read
/// fails as on a reset, <see cref="Aborted"/> is cancelled). Bound every wait on it in a test (<c>WaitAsync(timeout)</c>).
/// </summary>
public sealed class FakeStreamConnection : IStreamConnection, IAsyncDisposable
{
    private readonly Dictionary<Type, object> _features = new();
    private readonly Pipe _toHandler = new();
    private readonly Pipe _toClient = new();
    private readonly CancellationTokenSource _draining = new();
    private readonly CancellationTokenSource _aborted = new();
    private readonly Lazy<Stream> _stream;
    private Task? _run;

    /// <summary>A new connection, not yet run.</summary>
    public FakeStreamConnection()
    {
        Transport = new DuplexPipe(_toHandler.Reader, _toClient.Writer);
        Client = new DuplexPipe(_toClient.Reader, _toHandler.Writer);
        _stream = new Lazy<Stream>(() => new DuplexPipeStream(Transport));
    }

    /// <inheritdoc />
    public long ConnectionId { get; init; } = 1;

    /// <inheritdoc />
    public string ListenerName { get; init; } = "test";

    /// <inheritdoc />
    public int ShardId { get; init; }

    /// <summary>The generation of the handler code (1 unless set).</summary>
    public int HandlerGeneration { get; init; } = 1;

    /// <inheritdoc />
    public EndPoint? RemoteEndPoint { get; init; } = new IPEndPoint(IPAddress.Loopback, 0);

    /// <inheritdoc />
    public EndPoint? LocalEndPoint { get; init; } = new IPEndPoint(IPAddress.Loopback, 0);

    /// <summary>The handler's side of the connection: it reads the client's bytes from <c>Input</c> and writes replies to <c>Output</c>.</summary>
    public IDuplexPipe Transport { get; }

    /// <summary>The same bytes as <see cref="Transport"/> as a stream (the handler uses one or the other).</summary>
    public Stream Stream => _stream.Value;

    /// <summary>The client's side: it writes to <c>Output</c> what the handler reads, and reads from <c>Input</c> what the handler wrote.</summary>
    public IDuplexPipe Client { get; }

    /// <inheritdoc />
    public CancellationToken Draining => _draining.Token;

    /// <inheritdoc />
    public CancellationToken Aborted => _aborted.Token;

    /// <summary>The exception that escaped the handler (the connection was aborted), or null.</summary>
    public Exception? HandlerFailure { get; private set; }

    /// <summary>
    /// Starts the handler made by <paramref name="factory"/> on the thread pool. The task completes when the connection
    /// ended (never faults: a failure is in <see cref="HandlerFailure"/>).
    /// </summary>
    public Task Run(IStreamConnectionHandlerFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        return Run(factory.Create(this));
    }

    /// <summary>Starts <paramref name="handler"/> on the thread pool; the task completes when the connection ended.</summary>
    /// <exception cref="InvalidOperationException">A handler runs on this connection already.</exception>
    public Task Run(IStreamConnectionHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        if (_run is not null) throw new InvalidOperationException("a handler runs on this fake connection already: make one per connection");
        return _run = Task.Run(async () =>
        {
            try
            {
                await handler.RunAsync(this).ConfigureAwait(false);
                await _toClient.Writer.CompleteAsync().ConfigureAwait(false); // flushed, then the client reads the end
            }
            catch (Exception e)
            {
                HandlerFailure = e;
                Abort();
            }
        });
    }

    /// <summary>The client sends <paramref name="data"/>.</summary>
    public async Task SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
        await _toHandler.Writer.WriteAsync(data, cancellationToken).ConfigureAwait(false);

    /// <summary>The client sends <paramref name="text"/> as UTF-8.</summary>
    public Task SendAsync(string text, CancellationToken cancellationToken = default) =>
        SendAsync(Encoding.UTF8.GetBytes(text), cancellationToken);

    /// <summary>The client shuts down its sending side (FIN): the handler's reads see the end of the input.</summary>
    public async Task EndInputAsync() => await _toHandler.Writer.CompleteAsync().ConfigureAwait(false);

    /// <summary>Reads exactly <paramref name="count"/> bytes the handler sent; fewer when the handler ended the stream first.</summary>
    /// <exception cref="IOException">The connection was aborted.</exception>
    public async Task<byte[]> ReceiveAsync(int count, CancellationToken cancellationToken = default)
    {
        var received = new ArrayBufferWriter<byte>(Math.Max(count, 1));
        while (received.WrittenCount < count)
        {
            var result = await ReadClientAsync(cancellationToken).ConfigureAwait(false);
            var take = result.Buffer.Slice(0, Math.Min(result.Buffer.Length, count - received.WrittenCount));
            foreach (var segment in take) received.Write(segment.Span);
            Client.Input.AdvanceTo(take.End);
            if (result.IsCompleted && take.Length == result.Buffer.Length) break;
        }
        return received.WrittenSpan.ToArray();
    }

    /// <summary>Reads what the handler sends until it ends the stream (returns or completes its output).</summary>
    /// <exception cref="IOException">The connection was aborted.</exception>
    public async Task<string> ReceiveToEndAsync(CancellationToken cancellationToken = default)
    {
        var received = new ArrayBufferWriter<byte>();
        while (true)
        {
            var result = await ReadClientAsync(cancellationToken).ConfigureAwait(false);
            foreach (var segment in result.Buffer) received.Write(segment.Span);
            Client.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted) return Encoding.UTF8.GetString(received.WrittenSpan);
        }
    }

    /// <summary>The node wants the connection to end (a reload, an upgrade): <see cref="Draining"/> is cancelled.</summary>
    public void Drain() => _draining.Cancel();

    /// <summary>The peer reset the connection: <see cref="Aborted"/> is cancelled and the handler's reads and writes fail.</summary>
    public void Reset() => Abort();

    /// <summary>Hard close: <see cref="Aborted"/> is cancelled, the handler's pipe ends with an error and the client's read fails as on a reset. Idempotent.</summary>
    public void Abort()
    {
        if (_aborted.IsCancellationRequested) return;
        var reset = new IOException("the connection was aborted");
        _toHandler.Writer.Complete(reset);
        _toClient.Writer.Complete(reset);
        _aborted.Cancel();
    }

    /// <summary>Offers <paramref name="feature"/> to the handler's <see cref="GetFeature{T}"/>.</summary>
    public FakeStreamConnection SetFeature<T>(T feature) where T : class
    {
        _features[typeof(T)] = feature ?? throw new ArgumentNullException(nameof(feature));
        return this;
    }

    /// <inheritdoc />
    public T? GetFeature<T>() where T : class => _features.TryGetValue(typeof(T), out var feature) ? (T)feature : null;

    /// <summary>Aborts a connection whose handler still runs and waits for the handler to end.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_run is { IsCompleted: false } run)
        {
            Abort();
            await run.ConfigureAwait(false);
        }
        _draining.Dispose();
        _aborted.Dispose();
    }

    private async ValueTask<ReadResult> ReadClientAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await Client.Input.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw new IOException($"the connection was aborted{(HandlerFailure is { } failure ? $": the handler threw {failure.GetType().Name}: {failure.Message}" : "")}", e);
        }
    }

    private sealed record DuplexPipe(PipeReader Input, PipeWriter Output) : IDuplexPipe;
}
