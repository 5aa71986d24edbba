using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ShardRuntime.LoadGen.Protocols;
using ShardRuntime.LoadGen.Reporting;

namespace ShardRuntime.LoadGen.Run;

/// <summary>
/// One UDP run: numbered queries (echo or DNS) sent open-loop at a rate, in turn from <see cref="LoadOptions.Flows"/>
/// client sockets, with at most <see cref="LoadOptions.MaxInFlight"/> unanswered (a send due while that many are in
/// flight is skipped and counted), until the duration or the count is reached. Each query ends answered, wrong, lost
/// (no reply within the timeout, decided by a watchdog) or failed (its send failed). When every query has ended, the
/// flows keep reading for a short linger (the timeout, at most 1 s) so that late duplicates are counted too; then the
/// sockets are closed and the report is returned. One dispatcher sends; one receive loop per flow reads.
/// </summary>
internal sealed class UdpLoadRun
{
    private static readonly TimeSpan MaxLinger = TimeSpan.FromSeconds(1);

    private readonly LoadOptions _options;
    private readonly DatagramCodec _codec;
    private readonly long _timeoutTicks;
    private readonly RunBounds _bounds;
    private readonly ModeCounters _counters = new();
    private readonly FailureTally _failures = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<UdpFlow> _flows = [];
    private long _endTimestamp;
    private int _nextFlow;
    private long _sent;
    private long _skipped;
    private long _inFlight;
    private long _maxInFlight;
    private int _sendingDone;
    private long _duplicated;
    private long _late;
    private long _unmatched;
    private long _portUnreachable;

    private UdpLoadRun(LoadOptions options)
    {
        _options = options;
        _codec = options.Protocol == LoadProtocol.Dns
            ? new DnsCodec(options.DnsName, options.DnsType, options.DnsExpectRcode, options.DnsExpectAddress)
            : new DatagramEchoCodec(options.PayloadBytes);
        _timeoutTicks = (long)(options.Timeout.TotalSeconds * Stopwatch.Frequency);
        _bounds = new RunBounds(options);
    }

    /// <summary>Runs the UDP load of <paramref name="options"/> (already validated, <see cref="LoadMode.Udp"/>); see <see cref="LoadRun.RunAsync"/>.</summary>
    public static async Task<LoadReport> ExecuteAsync(LoadOptions options, Action<LoadReport>? progress, CancellationToken cancellationToken)
    {
        var run = new UdpLoadRun(options);
        try
        {
            return await run.RunAsync(progress, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            foreach (var flow in run._flows)
                flow.Dispose();
            run._bounds.Dispose();
        }
    }

    private async Task<LoadReport> RunAsync(Action<LoadReport>? progress, CancellationToken cancellationToken)
    {
        var target = _options.Target;
        for (int i = 0; i < _options.Flows; i++)
        {
            var source = target.AddressFamily == AddressFamily.InterNetwork && _options.SourceAddresses > 1
                ? new IPEndPoint(new IPAddress([127, 0, 0, (byte)(1 + i % _options.SourceAddresses)]), 0)
                : null;
            _flows.Add(new UdpFlow(i, target, source, _codec.MaxQueryBytes));
            _counters.ConnectionOpened();
        }

        using var cancelled = _bounds.Start(cancellationToken);
        var period = TimeSpan.FromTicks(Math.Clamp(_options.Timeout.Ticks / 20, TimeSpan.TicksPerMillisecond * 5, TimeSpan.TicksPerMillisecond * 100));
        var receivers = _flows.Select(flow => Task.Run(() => ReceiveAsync(flow), CancellationToken.None)).ToList();
        var watchdog = new Timer(_ => ExpireDue(Stopwatch.GetTimestamp()), null, period, period);
        var progressTimer = progress is null ? null : new Timer(_ => progress(Snapshot(inProgress: true)), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        try
        {
            await Task.Run(() => _bounds.NewPacer(_options.Rate).RunAsync(StartQuery, _bounds.Token), CancellationToken.None).ConfigureAwait(false);
            Volatile.Write(ref _sendingDone, 1);
            if (Volatile.Read(ref _inFlight) == 0)
                _drained.TrySetResult();
            // The watchdog ends every query within the timeout (plus its period); this bound only guards against a bug.
            if (await Task.WhenAny(_drained.Task, Task.Delay(_options.Timeout * 2 + TimeSpan.FromSeconds(5), CancellationToken.None)).ConfigureAwait(false) != _drained.Task)
                ExpireDue(long.MaxValue / 2);
            Volatile.Write(ref _endTimestamp, Stopwatch.GetTimestamp());
            await Task.Delay(_options.Timeout < MaxLinger ? _options.Timeout : MaxLinger, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            await watchdog.DisposeAsync().ConfigureAwait(false);
            if (progressTimer is not null)
                await progressTimer.DisposeAsync().ConfigureAwait(false);
            foreach (var flow in _flows)
                flow.Dispose();
            await Task.WhenAll(receivers).ConfigureAwait(false);
        }
        return Snapshot(inProgress: false);
    }

    /// <summary>Sends one query from the next flow, or skips it when the in-flight bound is reached; false once the run's bound is reached.</summary>
    private bool StartQuery()
    {
        // Only the dispatcher adds to the queries in flight, so the bound holds.
        if (Volatile.Read(ref _inFlight) >= _options.MaxInFlight)
        {
            Interlocked.Increment(ref _skipped);
            return true;
        }
        if (!_bounds.TryTakeTicket(out _))
            return false;
        SendQuery(_flows[_nextFlow]);
        _nextFlow = (_nextFlow + 1) % _flows.Count;
        return true;
    }

    private void SendQuery(UdpFlow flow)
    {
        long inFlight = Interlocked.Increment(ref _inFlight);
        if (inFlight > Volatile.Read(ref _maxInFlight))
            Volatile.Write(ref _maxInFlight, inFlight);
        long now = Stopwatch.GetTimestamp();
        long number = flow.Tracker.Begin(now);
        Interlocked.Increment(ref _sent);
        int length = _codec.WriteQuery(flow.Send, flow.Index, number, now);
        try
        {
            flow.Socket.Send(flow.Send.AsSpan(0, length), SocketFlags.None);
        }
        catch (SocketException e)
        {
            if (flow.Tracker.Fail(number))
            {
                // ECONNREFUSED here is an earlier datagram's ICMP port unreachable, reported on this send: not sent.
                var outcome = LoadRun.Classify(e, out var detail);
                _failures.Record(_counters, outcome, detail, 1);
                QueriesEnded(1);
            }
        }
    }

    private async Task ReceiveAsync(UdpFlow flow)
    {
        var buffer = flow.Receive.AsMemory();
        while (true)
        {
            int received;
            try
            {
                received = await flow.Socket.ReceiveAsync(buffer, SocketFlags.None).ConfigureAwait(false);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
            {
                Interlocked.Increment(ref _portUnreachable);
                continue;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                return; // the flow was closed
            }
            long now = Stopwatch.GetTimestamp();
            switch (flow.Tracker.Settle(_codec, buffer.Span[..received], flow.Index, now, out long latency, out string? reason))
            {
                case DatagramMatch.Answered:
                    _counters.Record(Outcome.Succeeded);
                    _counters.Latency.Record(Stopwatch.GetElapsedTime(0, latency).Ticks);
                    QueriesEnded(1);
                    break;
                case DatagramMatch.Wrong:
                    _failures.Record(_counters, Outcome.WrongReply, reason, 1);
                    QueriesEnded(1);
                    break;
                case DatagramMatch.Duplicate:
                    Interlocked.Increment(ref _duplicated);
                    break;
                case DatagramMatch.Late:
                    Interlocked.Increment(ref _late);
                    break;
                default:
                    Interlocked.Increment(ref _unmatched);
                    break;
            }
        }
    }

    private void ExpireDue(long now)
    {
        foreach (var flow in _flows)
        {
            int lost = flow.Tracker.ExpireDue(now, _timeoutTicks);
            if (lost > 0)
            {
                _counters.Record(Outcome.TimedOut, lost);
                QueriesEnded(lost);
            }
        }
    }

    private void QueriesEnded(int count)
    {
        if (Interlocked.Add(ref _inFlight, -count) == 0 && Volatile.Read(ref _sendingDone) == 1)
            _drained.TrySetResult();
    }

    private LoadReport Snapshot(bool inProgress)
    {
        var udp = _counters.ToReport();
        long end = Volatile.Read(ref _endTimestamp);
        return new LoadReport
        {
            Options = _options,
            StartedAt = _bounds.StartedAt,
            EndedAt = DateTimeOffset.UtcNow,
            Elapsed = _bounds.ElapsedUntil(end == 0 ? Stopwatch.GetTimestamp() : end),
            Udp = udp,
            Total = udp,
            Datagrams = new DatagramReport(
                _flows.Count, Volatile.Read(ref _sent), udp.Succeeded, udp.TimedOut, udp.WrongReply,
                Volatile.Read(ref _duplicated), Volatile.Read(ref _late), Volatile.Read(ref _unmatched),
                Volatile.Read(ref _portUnreachable), Math.Max(0, Volatile.Read(ref _inFlight)), Volatile.Read(ref _maxInFlight)),
            SkippedStarts = Volatile.Read(ref _skipped),
            OtherErrors = _failures.OtherErrors,
            WrongReplyReasons = _failures.WrongReplyReasons,
            Generations = [],
            InProgress = inProgress,
        };
    }
}
