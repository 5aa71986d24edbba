using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ShardRuntime.LoadGen.Protocols;
using ShardRuntime.LoadGen.Reporting;

namespace ShardRuntime.LoadGen.Run;

/// <summary>
/// One load run: churn (a new connection per request, paced open-loop at a rate, bounded in flight) and/or keep-alive
/// (long-lived connections with requests in flight), until the duration or the count is reached; then attempts in
/// flight finish (each bounded by the timeout) and the report is returned. Every attempt ends in one
/// <see cref="Outcome"/>. A keep-alive connection that fails gives its outcome to every request outstanding on it,
/// and the connection is replaced by a new one (whose connect is the next request's attempt). A UDP run
/// (<see cref="LoadMode.Udp"/>) is handed to <see cref="UdpLoadRun"/>.
/// </summary>
public sealed class LoadRun
{
    private const long NoDeadline = long.MaxValue;
    private const int SolIp = 0;
    private const int IpBindAddressNoPort = 24;

    private readonly LoadOptions _options;
    private readonly ReplyCodec _codec;
    private readonly long _timeoutTicks;
    private readonly RunBounds _bounds;
    private readonly ModeCounters _churn = new();
    private readonly ModeCounters _keepAlive = new();
    private readonly FailureTally _failures = new();
    private readonly List<InFlightSlot> _slots = [];
    private readonly ConcurrentStack<InFlightSlot> _freeChurnSlots = new();
    private readonly TaskCompletionSource _churnDrained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private GenerationTally? _generations;
    private long _skipped;
    private int _pendingChurn = 1;
    private readonly IPEndPoint[] _sources;
    private long _nextSource;

    private LoadRun(LoadOptions options)
    {
        _options = options;
        _codec = options.Protocol == LoadProtocol.Http
            ? new HttpCodec(options.Target.ToString(), options.Path, options.ExpectBody, options.GenerationHeader)
            : new EchoCodec(options.PayloadBytes);
        _timeoutTicks = (long)(options.Timeout.TotalSeconds * Stopwatch.Frequency);
        _bounds = new RunBounds(options);
        _sources = options.Target.AddressFamily == AddressFamily.InterNetwork && options.SourceAddresses > 1
            ? Enumerable.Range(1, options.SourceAddresses).Select(i => new IPEndPoint(new IPAddress([127, 0, 0, (byte)i]), 0)).ToArray()
            : [];
    }

    /// <summary>
    /// Runs the load described by <paramref name="options"/> and reports what happened. <paramref name="progress"/>,
    /// if given, receives a snapshot once a second. Cancelling <paramref name="cancellationToken"/> ends the run
    /// early, the same way the duration does. Throws <see cref="ArgumentException"/> for invalid options.
    /// </summary>
    public static async Task<LoadReport> RunAsync(
        LoadOptions options, Action<LoadReport>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        if (errors.Count > 0)
            throw new ArgumentException(string.Join(Environment.NewLine, errors), nameof(options));
        if (options.Mode == LoadMode.Udp)
            return await UdpLoadRun.ExecuteAsync(options, progress, cancellationToken).ConfigureAwait(false);
        var run = new LoadRun(options);
        using (run._bounds)
            return await run.ExecuteAsync(progress, cancellationToken).ConfigureAwait(false);
    }

    private bool Churns => _options.Mode.HasFlag(LoadMode.Churn);

    private bool KeepsAlive => _options.Mode.HasFlag(LoadMode.KeepAlive);

    private async Task<LoadReport> ExecuteAsync(Action<LoadReport>? progress, CancellationToken cancellationToken)
    {
        if (Churns)
        {
            int receive = _options.Protocol == LoadProtocol.Http ? 4096 : _options.PayloadBytes;
            for (int i = 0; i < _options.MaxInFlight; i++)
            {
                var slot = new InFlightSlot(_codec.MaxRequestBytes, receive, pipeline: 1);
                _slots.Add(slot);
                _freeChurnSlots.Push(slot);
            }
        }
        var keepAliveSlots = new List<InFlightSlot>();
        if (KeepsAlive)
        {
            int receive = Math.Max(16 * 1024, _options.Protocol == LoadProtocol.Echo ? _options.PayloadBytes * _options.Pipeline : 0);
            for (int i = 0; i < _options.Connections; i++)
                keepAliveSlots.Add(new InFlightSlot(_codec.MaxRequestBytes * _options.Pipeline, receive, _options.Pipeline));
            _slots.AddRange(keepAliveSlots);
        }

        using var cancelled = _bounds.Start(cancellationToken);
        if (_options.GenerationHeader is not null && _options.Protocol == LoadProtocol.Http)
            _generations = new GenerationTally(_bounds.StartTimestamp);

        var period = TimeSpan.FromTicks(Math.Clamp(_options.Timeout.Ticks / 20, TimeSpan.TicksPerMillisecond * 5, TimeSpan.TicksPerMillisecond * 100));
        using var watchdog = new Timer(_ => ExpireDue(Stopwatch.GetTimestamp()), null, period, period);
        var progressTimer = progress is null ? null : new Timer(_ => progress(Snapshot(inProgress: true)), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));

        var tasks = new List<Task>();
        if (Churns)
        {
            tasks.Add(Task.Run(DispatchChurnAsync, CancellationToken.None));
            tasks.Add(_churnDrained.Task);
        }
        foreach (var slot in keepAliveSlots)
            tasks.Add(Task.Run(() => RunKeepAliveAsync(slot), CancellationToken.None));

        // Everything ends by itself within the timeout after the stop; this bound only guards against a bug.
        var all = Task.WhenAll(tasks);
        var bound = _options.EffectiveDuration + _options.Timeout * 2 + TimeSpan.FromSeconds(5);
        if (await Task.WhenAny(all, Task.Delay(bound, CancellationToken.None)).ConfigureAwait(false) != all)
        {
            _bounds.Stop();
            ExpireDue(long.MaxValue - 1);
            await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(10), CancellationToken.None)).ConfigureAwait(false);
        }
        if (progressTimer is not null)
            await progressTimer.DisposeAsync().ConfigureAwait(false);
        return Snapshot(inProgress: false);
    }

    private void ExpireDue(long now)
    {
        foreach (var slot in _slots)
            slot.ExpireIfDue(now);
    }

    private LoadReport Snapshot(bool inProgress)
    {
        var modes = new List<ModeCounters>();
        if (Churns)
            modes.Add(_churn);
        if (KeepsAlive)
            modes.Add(_keepAlive);
        return new LoadReport
        {
            Options = _options,
            StartedAt = _bounds.StartedAt,
            EndedAt = DateTimeOffset.UtcNow,
            Elapsed = _bounds.ElapsedUntil(Stopwatch.GetTimestamp()),
            Churn = Churns ? _churn.ToReport() : null,
            KeepAlive = KeepsAlive ? _keepAlive.ToReport() : null,
            Total = ModeCounters.ToReport(modes),
            SkippedStarts = Volatile.Read(ref _skipped),
            OtherErrors = _failures.OtherErrors,
            WrongReplyReasons = _failures.WrongReplyReasons,
            Generations = _generations?.Snapshot() ?? [],
            RepliesWithoutGeneration = _generations?.Missing ?? 0,
            MixedGenerationConnections = _generations?.MixedConnections ?? 0,
            InProgress = inProgress,
        };
    }

    private Socket NewSocket()
    {
        var socket = new Socket(_options.Target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (_sources.Length > 0)
        {
            try
            {
                // Bind only the address; the port is chosen at connect, per (source, destination) pair.
                socket.SetRawSocketOption(SolIp, IpBindAddressNoPort, [1, 0, 0, 0]);
                var source = _sources[(int)((ulong)Interlocked.Increment(ref _nextSource) % (ulong)_sources.Length)];
                socket.Bind(source);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        return socket;
    }

    // ----- churn -----

    private async Task DispatchChurnAsync()
    {
        try
        {
            await _bounds.NewPacer(_options.Rate).RunAsync(StartChurnAttempt, _bounds.Token).ConfigureAwait(false);
        }
        finally
        {
            ChurnAttemptEnded();
        }
    }

    /// <summary>Starts one churn attempt, or skips it when no slot is free; false once the run's bound is reached.</summary>
    private bool StartChurnAttempt()
    {
        if (!_freeChurnSlots.TryPop(out var slot))
        {
            Interlocked.Increment(ref _skipped);
            return true;
        }
        if (!_bounds.TryTakeTicket(out long sequence))
        {
            _freeChurnSlots.Push(slot);
            return false;
        }
        Interlocked.Increment(ref _pendingChurn);
        _ = RunChurnAttemptAsync(slot, sequence);
        return true;
    }

    private void ChurnAttemptEnded()
    {
        if (Interlocked.Decrement(ref _pendingChurn) == 0)
            _churnDrained.TrySetResult();
    }

    private async Task RunChurnAttemptAsync(InFlightSlot slot, long sequence)
    {
        var outcome = Outcome.Succeeded;
        string? detail = null;
        Socket? socket = null;
        long started = Stopwatch.GetTimestamp();
        slot.ResetConnection();
        try
        {
            socket = NewSocket();
            slot.Arm(socket, started + _timeoutTicks);
            await socket.ConnectAsync(_options.Target, CancellationToken.None).ConfigureAwait(false);
            _churn.ConnectionOpened();
            if (!slot.Rearm(Stopwatch.GetTimestamp() + _timeoutTicks))
                throw new TimeoutException();
            int length = _codec.WriteRequest(slot.Send, sequence);
            await SendAllAsync(socket, slot.Send.AsMemory(0, length)).ConfigureAwait(false);
            int used = 0;
            while (true)
            {
                if (!slot.EnsureRoom(used))
                {
                    (outcome, detail) = (Outcome.WrongReply, WrongReasons.TooLarge);
                    break;
                }
                int received = await socket.ReceiveAsync(slot.Receive.AsMemory(used), SocketFlags.None).ConfigureAwait(false);
                used += received;
                if (_codec.TryParse(slot.Receive.AsSpan(0, used), sequence, received == 0, out var reply))
                {
                    if (reply.WrongReason is null)
                        RecordSuccess(_churn, slot, reply, slot.Receive.AsSpan(0, used), started);
                    else
                        (outcome, detail) = (Outcome.WrongReply, reply.WrongReason);
                    break;
                }
                if (received == 0)
                {
                    outcome = Outcome.Closed;
                    break;
                }
            }
        }
        catch (Exception e)
        {
            outcome = Classify(e, out detail);
        }
        finally
        {
            bool expired = !slot.Disarm();
            socket?.Dispose();
            if (expired && outcome != Outcome.Succeeded)
                (outcome, detail) = (Outcome.TimedOut, null);
            if (outcome != Outcome.Succeeded)
                RecordFailure(_churn, outcome, detail, 1);
            _freeChurnSlots.Push(slot);
            ChurnAttemptEnded();
        }
    }

    // ----- keep-alive -----

    private async Task RunKeepAliveAsync(InFlightSlot slot)
    {
        while (_bounds.TryTakeTicket(out long first))
        {
            var socket = NewSocket();
            slot.ResetConnection();
            slot.Arm(socket, Stopwatch.GetTimestamp() + _timeoutTicks);
            try
            {
                await socket.ConnectAsync(_options.Target, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                var outcome = Classify(e, out var detail);
                if (!slot.Disarm())
                    (outcome, detail) = (Outcome.TimedOut, null);
                socket.Dispose();
                RecordFailure(_keepAlive, outcome, detail, 1);
                continue;
            }
            _keepAlive.ConnectionOpened();
            try
            {
                await ServeConnectionAsync(slot, socket, first).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                var outcome = Classify(e, out var detail);
                if (slot.IsExpired)
                    (outcome, detail) = (Outcome.TimedOut, null);
                FailOutstanding(slot, outcome, detail);
            }
            finally
            {
                slot.Disarm();
                socket.Dispose();
            }
        }
    }

    /// <summary>Sends and answers requests on one connection until the run stops or the connection is done.</summary>
    private async Task ServeConnectionAsync(InFlightSlot slot, Socket socket, long first)
    {
        int pipeline = _options.Pipeline;
        bool haveFirst = true, closing = false;
        int used = 0;
        while (true)
        {
            int length = 0;
            long now = Stopwatch.GetTimestamp();
            while (slot.Outstanding < pipeline && !closing)
            {
                long sequence;
                if (haveFirst)
                {
                    sequence = first;
                    haveFirst = false;
                }
                else if (!_bounds.TryTakeTicket(out sequence))
                {
                    break;
                }
                length += _codec.WriteRequest(slot.Send.AsSpan(length), sequence);
                slot.Push(sequence, now);
            }
            if (slot.Outstanding == 0)
                return;
            if (length > 0)
            {
                if (!slot.Rearm(slot.OldestSentAt + _timeoutTicks))
                    throw new TimeoutException();
                await SendAllAsync(socket, slot.Send.AsMemory(0, length)).ConfigureAwait(false);
            }

            int answered = 0;
            while (answered == 0)
            {
                if (!slot.EnsureRoom(used))
                {
                    FailOutstanding(slot, Outcome.WrongReply, WrongReasons.TooLarge);
                    return;
                }
                int received = await socket.ReceiveAsync(slot.Receive.AsMemory(used), SocketFlags.None).ConfigureAwait(false);
                used += received;
                bool eof = received == 0;
                int start = 0;
                while (slot.Outstanding > 0
                    && _codec.TryParse(slot.Receive.AsSpan(start, used - start), slot.OldestSequence, eof, out var reply))
                {
                    long sentAt = slot.OldestSentAt;
                    slot.Pop();
                    answered++;
                    if (reply.WrongReason is null)
                        RecordSuccess(_keepAlive, slot, reply, slot.Receive.AsSpan(start, reply.Consumed), sentAt);
                    else
                        RecordFailure(_keepAlive, Outcome.WrongReply, reply.WrongReason, 1);
                    start += reply.Consumed;
                    if (!reply.Framed)
                    {
                        // The stream cannot be split into replies any more: the rest cannot be answered right.
                        FailOutstanding(slot, Outcome.WrongReply, reply.WrongReason);
                        return;
                    }
                    closing |= reply.CloseAfter;
                }
                if (start > 0)
                {
                    slot.Receive.AsSpan(start, used - start).CopyTo(slot.Receive);
                    used -= start;
                }
                if (eof)
                {
                    FailOutstanding(slot, Outcome.Closed, null);
                    return;
                }
                if (slot.Outstanding > 0)
                {
                    if (!slot.Rearm(slot.OldestSentAt + _timeoutTicks))
                        throw new TimeoutException();
                }
                else
                {
                    slot.Rearm(NoDeadline);
                    if (closing)
                        return;
                }
            }
        }
    }

    private void FailOutstanding(InFlightSlot slot, Outcome outcome, string? detail)
    {
        if (slot.Outstanding > 0)
            RecordFailure(_keepAlive, outcome, detail, slot.Outstanding);
        slot.ResetConnection();
    }

    // ----- shared -----

    private static async ValueTask SendAllAsync(Socket socket, ReadOnlyMemory<byte> data)
    {
        while (!data.IsEmpty)
        {
            int sent = await socket.SendAsync(data, SocketFlags.None).ConfigureAwait(false);
            data = data[sent..];
        }
    }

    private void RecordSuccess(ModeCounters counters, InFlightSlot slot, in ParsedReply reply, ReadOnlySpan<byte> replyBytes, long sentAt)
    {
        long now = Stopwatch.GetTimestamp();
        counters.Record(Outcome.Succeeded);
        counters.Latency.Record(Stopwatch.GetElapsedTime(sentAt, now).Ticks);
        if (_generations is null)
            return;
        if (reply.GenerationStart < 0)
        {
            _generations.RecordMissing();
            return;
        }
        var value = slot.GenerationString(replyBytes.Slice(reply.GenerationStart, reply.GenerationLength));
        slot.NoteGeneration(value, out bool first, out bool mixed);
        if (mixed)
            _generations.RecordMixedConnection();
        _generations.Record(value, first, now);
    }

    private void RecordFailure(ModeCounters counters, Outcome outcome, string? detail, int count) =>
        _failures.Record(counters, outcome, detail, count);

    /// <summary>Sorts an exception from connect, send or receive into an outcome; the name of an other error in <paramref name="detail"/>.</summary>
    internal static Outcome Classify(Exception exception, out string? detail)
    {
        detail = null;
        switch (exception)
        {
            case SocketException { SocketErrorCode: SocketError.ConnectionRefused }:
                return Outcome.Refused;
            case SocketException { SocketErrorCode: SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown }:
                return Outcome.Reset;
            case SocketException { SocketErrorCode: SocketError.TimedOut }:
            case TimeoutException:
                return Outcome.TimedOut;
            case SocketException socketException:
                detail = socketException.SocketErrorCode.ToString();
                return Outcome.OtherError;
            default:
                detail = exception.GetType().Name;
                return Outcome.OtherError;
        }
    }
}
