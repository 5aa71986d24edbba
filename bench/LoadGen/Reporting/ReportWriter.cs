using System.Globalization;
using System.Text;
using System.Text.Json;
using ShardRuntime.LoadGen.Run;

namespace ShardRuntime.LoadGen.Reporting;

/// <summary>Writes a <see cref="LoadReport"/> as the human summary, as a one-line progress update, or as JSON.</summary>
public static class ReportWriter
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>The human summary printed at the end of a run.</summary>
    public static string FormatSummary(LoadReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var o = report.Options;
        var text = new StringBuilder();
        text.Append(Invariant, $"target {o.Target}  protocol {Name(o.Protocol)}  mode {Name(o.Mode)}");
        if (o.Mode.HasFlag(LoadMode.Churn) || o.Mode == LoadMode.Udp)
            text.Append(Invariant, $"  rate {o.Rate}/s  max-in-flight {o.MaxInFlight}");
        if (o.Mode == LoadMode.Udp)
            text.Append(Invariant, $"  flows {o.Flows}");
        if (o.Mode == LoadMode.Udp && o.Protocol == LoadProtocol.Dns)
            text.Append(Invariant, $"  query {o.DnsName} {DnsTypeName(o.DnsType)}");
        if (o.Mode.HasFlag(LoadMode.KeepAlive))
            text.Append(Invariant, $"  connections {o.Connections}  pipeline {o.Pipeline}");
        text.AppendLine();
        text.Append(Invariant, $"ran {report.Elapsed.TotalSeconds:F2} s ({report.StartedAt:O} .. {report.EndedAt:O})");
        text.Append(Invariant, $"  bound: duration {o.EffectiveDuration.TotalSeconds:0.###} s");
        if (o.Count is { } count)
            text.Append(Invariant, $", count {count}");
        text.Append(Invariant, $"  timeout {o.Timeout.TotalMilliseconds:0} ms");
        text.AppendLine();
        text.AppendLine();
        text.AppendLine("               attempts   succeeded  refused    reset   closed  timed_out  wrong_reply  other_error  connections");
        if (report.Churn is { } churn)
            AppendRow(text, "churn", churn);
        if (report.KeepAlive is { } keepAlive)
            AppendRow(text, "keepalive", keepAlive);
        if (report.Udp is { } udp)
            AppendRow(text, "udp", udp);
        AppendRow(text, "total", report.Total);
        text.AppendLine();
        text.Append(Invariant, $"succeeded/s {report.SucceededPerSecond:F0}   failed {report.Total.Failed}");
        if (report.SkippedStarts > 0)
            text.Append(Invariant, $"   {(o.Mode == LoadMode.Udp ? "sends" : "churn starts")} skipped (max-in-flight busy): {report.SkippedStarts}");
        text.AppendLine();
        if (report.Datagrams is { } d)
            text.AppendLine(Invariant, $"datagrams: sent {d.Sent}  answered {d.Answered}  lost {d.Lost}  duplicated {d.Duplicated}  wrong {d.Wrong}  late {d.Late}  unmatched {d.Unmatched}  port_unreachable {d.PortUnreachable}  max_in_flight {d.MaxInFlight}");
        foreach (var (name, mode) in Modes(report))
            text.AppendLine(Invariant, $"latency {name,-9} {FormatLatency(mode.Latency)}");
        if (report.OtherErrors.Count > 0)
            text.AppendLine(Invariant, $"other errors: {string.Join(", ", report.OtherErrors.Select(e => $"{e.Key} {e.Value}"))}");
        if (report.WrongReplyReasons.Count > 0)
            text.AppendLine(Invariant, $"wrong replies: {string.Join(", ", report.WrongReplyReasons.Select(e => $"{e.Key} {e.Value}"))}");
        if (o.GenerationHeader is not null)
        {
            text.AppendLine(Invariant, $"generations ({o.GenerationHeader}): {report.Generations.Count} value(s), replies without it {report.RepliesWithoutGeneration}, connections that saw two values {report.MixedGenerationConnections}");
            foreach (var g in report.Generations)
                text.AppendLine(Invariant, $"  {g.Value,-20} replies {g.Replies,10}  connections {g.Connections,8}  seen {g.FirstSeenMs / 1000:F2}..{g.LastSeenMs / 1000:F2} s");
        }
        text.AppendLine(report.Problems == 0 ? "result: every attempt succeeded"
            : report.Total.Failed == report.Problems ? $"result: {report.Total.Failed} attempt(s) failed"
            : $"result: {report.Total.Failed} attempt(s) failed, {report.Problems - report.Total.Failed} extra or unmatched repl(ies)");
        return text.ToString();
    }

    /// <summary>One line per second while the run goes.</summary>
    public static string FormatProgress(LoadReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var t = report.Total;
        return string.Create(Invariant,
            $"[{report.Elapsed.TotalSeconds,6:F1}s] attempts {t.Attempts} ok {t.Succeeded} refused {t.Refused} reset {t.Reset} closed {t.Closed} timed_out {t.TimedOut} wrong {t.WrongReply} other {t.OtherError}{(report.Datagrams is { } d ? $" duplicated {d.Duplicated} in_flight {d.InFlight}" : "")}  ok/s {report.SucceededPerSecond:F0}  p99 {FormatMicros(t.Latency.P99Us)}");
    }

    /// <summary>The JSON summary: options, times, counters per mode and in total, latencies, error and generation tallies.</summary>
    public static void WriteJson(Stream stream, LoadReport report)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(report);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        var o = report.Options;
        json.WriteStartObject();
        json.WriteStartObject("options");
        json.WriteString("target", o.Target.ToString());
        json.WriteString("mode", Name(o.Mode));
        json.WriteString("protocol", Name(o.Protocol));
        json.WriteNumber("rate", o.Rate);
        json.WriteNumber("max_in_flight", o.MaxInFlight);
        json.WriteNumber("connections", o.Connections);
        json.WriteNumber("pipeline", o.Pipeline);
        json.WriteNumber("duration_seconds", o.EffectiveDuration.TotalSeconds);
        if (o.Count is { } count)
            json.WriteNumber("count", count);
        else
            json.WriteNull("count");
        json.WriteNumber("timeout_ms", o.Timeout.TotalMilliseconds);
        json.WriteString("path", o.Path);
        json.WriteString("expect_body", o.ExpectBody);
        json.WriteString("generation_header", o.GenerationHeader);
        json.WriteNumber("payload_bytes", o.PayloadBytes);
        json.WriteNumber("source_addresses", o.SourceAddresses);
        if (o.Mode == LoadMode.Udp)
        {
            json.WriteNumber("flows", o.Flows);
            if (o.Protocol == LoadProtocol.Dns)
            {
                json.WriteString("dns_name", o.DnsName);
                json.WriteString("dns_type", DnsTypeName(o.DnsType));
                json.WriteString("dns_rcode", Protocols.DnsCodec.RcodeName(o.DnsExpectRcode));
                json.WriteString("dns_expect_address", o.DnsExpectAddress?.ToString());
            }
        }
        json.WriteEndObject();
        json.WriteString("started_at", report.StartedAt);
        json.WriteString("ended_at", report.EndedAt);
        json.WriteNumber("elapsed_seconds", report.Elapsed.TotalSeconds);
        json.WriteNumber("succeeded_per_second", report.SucceededPerSecond);
        json.WritePropertyName("total");
        WriteMode(json, report.Total);
        if (report.Churn is { } churn)
        {
            json.WritePropertyName("churn");
            WriteMode(json, churn);
        }
        if (report.KeepAlive is { } keepAlive)
        {
            json.WritePropertyName("keepalive");
            WriteMode(json, keepAlive);
        }
        if (report.Udp is { } udp)
        {
            json.WritePropertyName("udp");
            WriteMode(json, udp, report.Datagrams);
        }
        json.WriteNumber("skipped_starts", report.SkippedStarts);
        WriteTally(json, "other_errors", report.OtherErrors);
        WriteTally(json, "wrong_reply_reasons", report.WrongReplyReasons);
        json.WriteStartArray("generations");
        foreach (var g in report.Generations)
        {
            json.WriteStartObject();
            json.WriteString("value", g.Value);
            json.WriteNumber("replies", g.Replies);
            json.WriteNumber("connections", g.Connections);
            json.WriteNumber("first_seen_ms", Math.Round(g.FirstSeenMs, 3));
            json.WriteNumber("last_seen_ms", Math.Round(g.LastSeenMs, 3));
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteNumber("replies_without_generation", report.RepliesWithoutGeneration);
        json.WriteNumber("mixed_generation_connections", report.MixedGenerationConnections);
        json.WriteEndObject();
    }

    private static void WriteMode(Utf8JsonWriter json, ModeReport mode, DatagramReport? datagrams = null)
    {
        json.WriteStartObject();
        json.WriteNumber("attempts", mode.Attempts);
        json.WriteNumber("succeeded", mode.Succeeded);
        json.WriteNumber("failed", mode.Failed);
        json.WriteNumber("refused", mode.Refused);
        json.WriteNumber("reset", mode.Reset);
        json.WriteNumber("closed", mode.Closed);
        json.WriteNumber("timed_out", mode.TimedOut);
        json.WriteNumber("wrong_reply", mode.WrongReply);
        json.WriteNumber("other_error", mode.OtherError);
        json.WriteNumber("connections_opened", mode.ConnectionsOpened);
        var l = mode.Latency;
        json.WriteStartObject("latency_us");
        json.WriteNumber("count", l.Count);
        json.WriteNumber("min", Math.Round(l.MinUs, 1));
        json.WriteNumber("mean", Math.Round(l.MeanUs, 1));
        json.WriteNumber("stddev", Math.Round(l.StdDevUs, 1));
        json.WriteNumber("p50", Math.Round(l.P50Us, 1));
        json.WriteNumber("p90", Math.Round(l.P90Us, 1));
        json.WriteNumber("p99", Math.Round(l.P99Us, 1));
        json.WriteNumber("p99_9", Math.Round(l.P999Us, 1));
        json.WriteNumber("max", Math.Round(l.MaxUs, 1));
        json.WriteEndObject();
        if (datagrams is { } d)
        {
            json.WriteNumber("flows", d.Flows);
            json.WriteNumber("sent", d.Sent);
            json.WriteNumber("answered", d.Answered);
            json.WriteNumber("lost", d.Lost);
            json.WriteNumber("wrong", d.Wrong);
            json.WriteNumber("duplicated", d.Duplicated);
            json.WriteNumber("late", d.Late);
            json.WriteNumber("unmatched", d.Unmatched);
            json.WriteNumber("port_unreachable", d.PortUnreachable);
            json.WriteNumber("in_flight", d.InFlight);
            json.WriteNumber("max_in_flight", d.MaxInFlight);
        }
        json.WriteEndObject();
    }

    private static void WriteTally(Utf8JsonWriter json, string name, IReadOnlyDictionary<string, long> tally)
    {
        json.WriteStartObject(name);
        foreach (var (key, value) in tally)
            json.WriteNumber(key, value);
        json.WriteEndObject();
    }

    private static void AppendRow(StringBuilder text, string name, ModeReport m) =>
        text.AppendLine(Invariant,
            $"{name,-12}{m.Attempts,11}{m.Succeeded,12}{m.Refused,9}{m.Reset,9}{m.Closed,9}{m.TimedOut,11}{m.WrongReply,13}{m.OtherError,13}{m.ConnectionsOpened,13}");

    private static IEnumerable<(string Name, ModeReport Mode)> Modes(LoadReport report)
    {
        if (report.Churn is { } churn)
            yield return ("churn", churn);
        if (report.KeepAlive is { } keepAlive)
            yield return ("keepalive", keepAlive);
        if (report.Udp is { } udp)
            yield return ("udp", udp);
    }

    private static string FormatLatency(LatencySummary l) => l.Count == 0
        ? "(no successful attempts)"
        : string.Create(Invariant,
            $"p50 {FormatMicros(l.P50Us)}  p90 {FormatMicros(l.P90Us)}  p99 {FormatMicros(l.P99Us)}  p99.9 {FormatMicros(l.P999Us)}  max {FormatMicros(l.MaxUs)}  mean {FormatMicros(l.MeanUs)}  stddev {FormatMicros(l.StdDevUs)}");

    private static string FormatMicros(double us) => us >= 10_000
        ? string.Create(Invariant, $"{us / 1000:F1}ms")
        : us >= 1000 ? string.Create(Invariant, $"{us / 1000:F2}ms") : string.Create(Invariant, $"{us:F0}us");

    internal static string Name(LoadMode mode) => mode switch
    {
        LoadMode.Churn => "churn",
        LoadMode.KeepAlive => "keepalive",
        LoadMode.Both => "both",
        LoadMode.Udp => "udp",
        _ => mode.ToString(),
    };

    internal static string Name(LoadProtocol protocol) => protocol switch
    {
        LoadProtocol.Http => "http",
        LoadProtocol.Echo => "echo",
        LoadProtocol.Dns => "dns",
        _ => protocol.ToString(),
    };

    internal static string DnsTypeName(DnsQueryType type) => type.ToString().ToUpperInvariant();
}
