using System.Buffers;
using System.IO.Pipelines;

namespace ShardRuntime.Runtime.Connections;

/// <summary>
/// Serves a span-style handler (<see cref="IConnectionHandler"/>: http-ok, echo, any user handler) over an
/// <see cref="IStreamConnection"/>, so it runs unchanged where only a stream is to be had (behind TLS, or on a listener
/// with <c>io = stream</c>). It keeps the span style's contract: <see cref="IConnectionHandler.OnReceived"/> is called
/// with the bytes left unconsumed followed by the new ones (the pipe's pooled segments; copied into one pooled buffer
/// only when they span several), the handler's writes are buffered and flushed after each callback (a slow reader makes
/// the flush wait, and the adapter reads nothing meanwhile: backpressure), the peer's half-close is
/// <see cref="IConnectionHandler.OnInputEnded"/>, a request left incomplete for the request-head timeout is
/// <see cref="IConnectionHandler.OnRequestTimedOut"/>, messages (<see cref="IConnectionMessagesFeature"/>) reach
/// <see cref="IConnectionHandler.OnMessage"/>, and no two callbacks ever overlap. <see cref="IConnectionHandler.OnClosed"/>
/// is called once, with the reason the adapter knows (<see cref="ConnectionCloseReason.Aborted"/> for an abort from
/// outside: idle timeout, drain deadline, reset). <see cref="IConnectionContext.CloseWithoutLinger"/> is
/// <see cref="IConnectionContext.Close"/> here. A handler exception is rethrown after <c>OnClosed</c>, for the runtime to
/// abort the connection and count it.
/// </summary>
public sealed class SpanHandlerAdapter : IStreamConnectionHandler
{
    private readonly Func<IConnectionContext, IConnectionHandler> _create;
    private readonly TimeSpan _requestHeadTimeout;
    private readonly int _maxReceiveBytes;

    /// <param name="create">Makes the connection's span handler (for example a handler lease's <c>CreateHandler</c>).</param>
    /// <param name="requestHeadTimeout">How long bytes may stay unconsumed with no request completed (the listener's request-head-timeout).</param>
    /// <param name="maxReceiveBytes">Unconsumed bytes the handler may leave before the connection is aborted (max-receive-bytes).</param>
    public SpanHandlerAdapter(Func<IConnectionContext, IConnectionHandler> create, TimeSpan requestHeadTimeout, int maxReceiveBytes)
    {
        ArgumentNullException.ThrowIfNull(create);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(requestHeadTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxReceiveBytes, 1);
        _create = create;
        _requestHeadTimeout = requestHeadTimeout;
        _maxReceiveBytes = maxReceiveBytes;
    }

    /// <inheritdoc />
    public async Task RunAsync(IStreamConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var run = new Run(this, connection);
        await run.ServeAsync().ConfigureAwait(false);
    }

    /// <summary>One connection's serving: the handler, its context, the gate that keeps callbacks one at a time.</summary>
    private sealed class Run
    {
        private readonly SpanHandlerAdapter _adapter;
        private readonly IStreamConnection _connection;
        private readonly PipeReader _input;
        private readonly PipeWriter _output;
        private readonly SpanHandlerContext _context;
        private readonly SemaphoreSlim _gate = new(1, 1);
        private readonly CancellationTokenSource _stop = new();
        private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private IConnectionHandler? _handler;
        private ConnectionCloseReason _reason = ConnectionCloseReason.Closed;
        private Exception? _failure;
        private long _incompleteSince;
        /// <summary>Bytes the handler left unconsumed at its last call (a cancelled read with more than these brought new ones).</summary>
        private long _unconsumed;

        public Run(SpanHandlerAdapter adapter, IStreamConnection connection)
        {
            _adapter = adapter;
            _connection = connection;
            _input = connection.Transport.Input;
            _output = connection.Transport.Output;
            _context = new SpanHandlerContext(connection, _output);
        }

        public async Task ServeAsync()
        {
            Task? messages = null;
            try
            {
                if (!await CallAsync(static (h, c, _) => h.OnConnected(c), 0, create: true).ConfigureAwait(false)) return;
                if (_connection.GetFeature<IConnectionMessagesFeature>() is { } feature)
                    messages = PumpMessagesAsync(feature.Messages);
                await ReadLoopAsync().ConfigureAwait(false);
                // Input ended and the handler did not close: it may still answer messages until it does (or the connection goes).
                while (!_context.IsClosing && messages is { IsCompleted: false })
                    await Task.WhenAny(messages, Task.Delay(Timeout.Infinite, _connection.Aborted)).ConfigureAwait(false);
            }
            catch (Exception) when (_failure is null && _connection.Aborted.IsCancellationRequested)
            {
                _reason = ConnectionCloseReason.Aborted; // the socket went away underneath a read or a flush
            }
            finally
            {
                _stopped.TrySetResult();
                await _stop.CancelAsync().ConfigureAwait(false);
                if (messages is not null) await messages.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                Closed();
            }
            if (_failure is not null) throw new ConnectionHandlerException(_handler?.GetType().Name, _failure);
        }

        private async Task ReadLoopAsync()
        {
            while (!_context.IsClosing)
            {
                var result = await ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                if (result.IsCanceled && (RequestLate() || _context.IsClosing || buffer.Length <= _unconsumed))
                {
                    // Cut short by the request-head deadline (or a close from OnMessage): nothing new to deliver.
                    _input.AdvanceTo(buffer.Start, buffer.End);
                    if (RequestLate()) await RequestTimedOutAsync(buffer.Length).ConfigureAwait(false);
                    continue;
                }
                await _gate.WaitAsync().ConfigureAwait(false);
                try
                {
                    var consumed = buffer.IsEmpty || _context.IsClosing ? buffer.Length : Deliver(buffer);
                    if (consumed < 0) return; // the handler failed
                    _input.AdvanceTo(buffer.GetPosition(consumed), buffer.End);
                    var unconsumed = buffer.Length - consumed;
                    _unconsumed = unconsumed;
                    Track(consumed, unconsumed);
                    if (unconsumed >= _adapter._maxReceiveBytes)
                    {
                        _reason = ConnectionCloseReason.ReceiveLimitExceeded;
                        _connection.Abort();
                        return;
                    }
                    if (result.IsCompleted)
                    {
                        if (!_context.IsClosing) Call(static (h, c, n) => h.OnInputEnded(c, n), (int)unconsumed);
                        await AfterCallbackAsync().ConfigureAwait(false);
                        return;
                    }
                    await AfterCallbackAsync().ConfigureAwait(false);
                }
                finally
                {
                    _gate.Release();
                }
            }
        }

        /// <summary>Reads; while a request is incomplete, the read is cut short (a cancelled result) at its request-head deadline.</summary>
        private async ValueTask<ReadResult> ReadAsync()
        {
            if (_incompleteSince == 0) return await _input.ReadAsync().ConfigureAwait(false);
            var left = _adapter._requestHeadTimeout - TimeSpan.FromMilliseconds(Environment.TickCount64 - _incompleteSince);
            using var deadline = new CancellationTokenSource(left > TimeSpan.Zero ? left : TimeSpan.Zero);
            await using var cut = deadline.Token.UnsafeRegister(static input => ((PipeReader)input!).CancelPendingRead(), _input).ConfigureAwait(false);
            return await _input.ReadAsync().ConfigureAwait(false);
        }

        /// <summary>Hands the bytes to the handler; how many it consumed, or -1 when it failed.</summary>
        private long Deliver(ReadOnlySequence<byte> buffer)
        {
            if (buffer.IsSingleSegment) return DeliverSpan(buffer.FirstSpan);
            var length = (int)Math.Min(buffer.Length, int.MaxValue);
            var rented = ArrayPool<byte>.Shared.Rent(length);
            try
            {
                buffer.Slice(0, length).CopyTo(rented);
                return DeliverSpan(rented.AsSpan(0, length));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }

        private long DeliverSpan(ReadOnlySpan<byte> data)
        {
            int consumed;
            try
            {
                consumed = _handler!.OnReceived(_context, data);
            }
            catch (Exception e)
            {
                Fail(e);
                return -1;
            }
            if (consumed >= 0 && consumed <= data.Length) return consumed;
            Fail(new InvalidOperationException($"handler {_handler.GetType().Name} returned {consumed} consumed bytes of {data.Length} received"));
            return -1;
        }

        /// <summary>The request-head deadline runs from the first byte left unconsumed and starts again whenever a request completes.</summary>
        private void Track(long consumed, long unconsumed)
        {
            if (unconsumed == 0) _incompleteSince = 0;
            else if (consumed > 0 || _incompleteSince == 0) _incompleteSince = Environment.TickCount64;
        }

        private bool RequestLate() =>
            _incompleteSince != 0 && Environment.TickCount64 - _incompleteSince >= (long)_adapter._requestHeadTimeout.TotalMilliseconds;

        private async Task RequestTimedOutAsync(long unconsumed)
        {
            await _gate.WaitAsync().ConfigureAwait(false);
            try
            {
                _incompleteSince = 0;
                _reason = ConnectionCloseReason.RequestTimeout;
                if (!Call(static (h, c, n) => h.OnRequestTimedOut(c, n), (int)Math.Min(unconsumed, int.MaxValue))) return;
                _context.Close();
                await AfterCallbackAsync().ConfigureAwait(false);
            }
            finally
            {
                _gate.Release();
            }
        }

        private async Task PumpMessagesAsync(System.Threading.Channels.ChannelReader<object> messages)
        {
            try
            {
                while (await WaitForMessageAsync(messages).ConfigureAwait(false))
                {
                    while (!_context.IsClosing && messages.TryRead(out var message))
                    {
                        await _gate.WaitAsync(_stop.Token).ConfigureAwait(false);
                        try
                        {
                            if (!_context.IsClosing && Call(static (h, c, m) => h.OnMessage(c, m), message))
                                await AfterCallbackAsync().ConfigureAwait(false);
                        }
                        finally
                        {
                            _gate.Release();
                        }
                    }
                    if (_context.IsClosing)
                    {
                        _input.CancelPendingRead(); // the read loop looks at the close
                        return;
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
            catch (Exception) when (_connection.Aborted.IsCancellationRequested)
            {
            }
        }

        /// <summary>
        /// Whether a message is waiting; false when the channel completed (the connection finished) or this serving
        /// stopped. The stop ends the wait without an exception (no cancelled token): every connection's pump stops, and
        /// a thrown cancellation per connection costs more than serving a small request.
        /// </summary>
        private async ValueTask<bool> WaitForMessageAsync(System.Threading.Channels.ChannelReader<object> messages)
        {
            var waiting = messages.WaitToReadAsync();
            if (waiting.IsCompletedSuccessfully) return waiting.Result;
            var task = waiting.AsTask();
            return await Task.WhenAny(task, _stopped.Task).ConfigureAwait(false) == task && task.IsCompletedSuccessfully && task.Result;
        }

        /// <summary>Flushes what the callback wrote (waiting while the peer does not read), then acts on an abort it asked for.</summary>
        private async ValueTask AfterCallbackAsync()
        {
            if (_context.AbortRequested)
            {
                if (_reason == ConnectionCloseReason.Closed) _reason = ConnectionCloseReason.Aborted;
                _connection.Abort();
                return;
            }
            if (!_context.HasUnflushed) return;
            _context.HasUnflushed = false;
            await _output.FlushAsync().ConfigureAwait(false);
        }

        /// <summary>Runs a callback (the first makes the handler); a throw is recorded and aborts the connection. False when it threw.</summary>
        private bool Call<TArg>(Action<IConnectionHandler, IConnectionContext, TArg> callback, TArg arg, bool create = false)
        {
            try
            {
                if (create) _handler = _adapter._create(_context);
                callback(_handler!, _context, arg);
                return true;
            }
            catch (Exception e)
            {
                Fail(e);
                return false;
            }
        }

        private async ValueTask<bool> CallAsync<TArg>(Action<IConnectionHandler, IConnectionContext, TArg> callback, TArg arg, bool create)
        {
            if (!Call(callback, arg, create)) return false;
            await AfterCallbackAsync().ConfigureAwait(false);
            return true;
        }

        private void Fail(Exception e)
        {
            _failure ??= e;
            _reason = ConnectionCloseReason.HandlerFailed;
            _context.Abort();
        }

        private void Closed()
        {
            if (_failure is null && _reason == ConnectionCloseReason.Closed && _connection.Aborted.IsCancellationRequested)
                _reason = ConnectionCloseReason.Aborted;
            _context.CloseRequested = true;
            if (_handler is null) return;
            try
            {
                _handler.OnClosed(_context, _reason);
            }
            catch (Exception e)
            {
                _failure ??= e;
            }
        }
    }
}
