using System.Globalization;
using System.Text;

namespace ShardRuntime.Host.Cli;

using Coordinator = ShardRuntime.Actors.Coordination.Coordinator;

/// <summary>The human-readable <c>status</c>: a line about the node, a table of listeners, then a table of shards per listener.</summary>
internal static class StatusReport
{
    public static string Format(Coordinator.NodeStatus node)
    {
        var text = new StringBuilder();
        var state = node.LetGo ? ", LET GO TO A SUCCESSOR (draining)" : node.Draining ? ", DRAINING" : "";
        text.Append(CultureInfo.InvariantCulture,
            $"node pid {node.ProcessId}, process generation {node.ProcessGeneration}, started {node.StartedAt:yyyy-MM-dd HH:mm:ss zzz}{state}\n");
        if (node.Transport is { } transport)
            text.Append(CultureInfo.InvariantCulture, $"{(node.InsecureTransport ? "WARNING: " : "")}cluster transport {transport}\n");
        if (node.Upgrade is { } upgrade)
        {
            var successor = upgrade.SuccessorProcessId is { } pid ? string.Create(CultureInfo.InvariantCulture, $" to successor pid {pid}") : "";
            text.Append(CultureInfo.InvariantCulture, $"upgrade in progress{successor}: {upgrade.Phase} (since {upgrade.Since:HH:mm:ss})\n");
        }
        if (node.LastUpgradeFailure is { } upgradeFailure)
            text.Append(CultureInfo.InvariantCulture, $"last upgrade {upgradeFailure}\n");
        if (node.Listeners.Count == 0)
        {
            text.Append("no listeners\n");
            return text.ToString();
        }

        text.Append('\n');
        // A udp listener has no connections: OPEN and ACCEPTED show its datagrams received and sent (and DROPPED what it dropped).
        AppendTable(text, ["LISTENER", "ENDPOINT", "HANDLER", "GENERATION", "SHARDS", "OPEN/RECEIVED", "ACCEPTED/SENT", "DROPPED"],
            node.Listeners.Select(l => new[]
            {
                l.Name, EndPointOf(l), l.Handler, Number(l.Generation),
                l.ConfiguredShards is { } configured ? $"{Number(l.DesiredShards)} (configured {Number(configured)})" : Number(l.DesiredShards),
                l.Datagrams is { } d ? Number(d.Received) : Number(l.OpenConnections),
                l.Datagrams is { } s ? Number(s.Sent) : Number(l.Accepted),
                l.Datagrams is { } dropped ? Number(dropped.Dropped) : "-",
            }),
            rightAligned: [3, 4, 5, 6, 7]);

        foreach (var listener in node.Listeners)
        {
            text.Append(CultureInfo.InvariantCulture, $"\n{listener.Name}:\n");
            if (listener.Shards.Count == 0)
            {
                text.Append("  no shards\n");
                continue;
            }
            if (listener.LastReloadFailure is { } failure)
                text.Append(CultureInfo.InvariantCulture, $"  last reload refused: {failure}\n");
            if (listener.Datagrams is null && listener.Style is { } style)
                text.Append(CultureInfo.InvariantCulture, $"  handler style: {StyleText(style)}{(listener.HandlerFailures > 0 ? $", {listener.HandlerFailures} handler failures" : "")}\n");
            if (listener.Tls is { } tls)
            {
                var h = tls.Handshakes;
                text.Append(CultureInfo.InvariantCulture,
                    $"  tls: {tls.Subject}, expires {tls.NotAfter:yyyy-MM-dd HH:mm} UTC ({tls.Certificate}, read {tls.LoadedAt:yyyy-MM-dd HH:mm:ss} UTC)\n");
                text.Append(CultureInfo.InvariantCulture,
                    $"  tls handshakes: {Number(h.Succeeded)} ok, {Number(h.Failed)} failed (timeout {Number(h.Timeouts)}, peer closed {Number(h.PeerClosed)}, protocol {Number(h.Protocol)}, client certificate missing {Number(h.ClientCertificateMissing)} / rejected {Number(h.ClientCertificateRejected)}, other {Number(h.Other + h.Cancelled)})\n");
            }
            // A generation's count: connections (tcp), or the sockets whose handler it is (udp).
            AppendTable(text, ["  GENERATION", "HANDLER", listener.Datagrams is null ? "CONNECTIONS" : "SOCKETS", "ASSEMBLY"],
                listener.Generations.Select(g => new[]
                {
                    "  " + Number(g.Generation) + (g.Current ? " (current)" : ""), g.Handler, Number(g.OpenConnections), g.Source ?? g.Assembly ?? "built-in",
                }),
                rightAligned: [2]);
            if (listener.Datagrams is { } datagrams)
            {
                text.Append(CultureInfo.InvariantCulture,
                    $"  datagrams: {datagrams.Received} received, {datagrams.Sent} sent, dropped {datagrams.DroppedTruncated} truncated, {datagrams.DroppedRefused} refused by the kernel, {datagrams.HandlerFailures} handler failures\n");
                AppendTable(text, ["  SHARD", "STATE", "INODE", "RECEIVED", "SENT", "DROPPED"],
                    listener.Shards.Select(s => new[]
                    {
                        "  " + Number(s.ShardId), s.State, Number(s.SocketInode), Number(s.Datagrams?.Received ?? 0), Number(s.Datagrams?.Sent ?? 0), Number(s.Datagrams?.Dropped ?? 0),
                    }),
                    rightAligned: [2, 3, 4, 5]);
                continue;
            }
            AppendTable(text, ["  SHARD", "STATE", "INODE", "ACCEPTED", "OPEN"],
                listener.Shards.Select(s => new[]
                {
                    "  " + Number(s.ShardId), s.State, Number(s.SocketInode), Number(s.Accepted), Number(s.OpenConnections),
                }),
                rightAligned: [2, 3, 4]);
        }
        return text.ToString();
    }

    /// <summary>The endpoint with its protocol (<c>127.0.0.1:5300/udp</c>).</summary>
    private static string EndPointOf(Coordinator.ListenerStatus listener) => $"{listener.EndPoint}/{listener.Protocol}";

    /// <summary>A listener's handler style (<see cref="Coordinator.ListenerStatus.Style"/>) with where it runs.</summary>
    private static string StyleText(string style) => style switch
    {
        "span" => "span (on the I/O loops)",
        "span/stream" => "span (on the stream path, off the I/O loops)",
        "async" => "async (a task per connection, off the I/O loops)",
        _ => style,
    };

    internal static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    internal static void AppendTable(StringBuilder text, string[] header, IEnumerable<string[]> rows, int[] rightAligned)
    {
        var all = new List<string[]> { header };
        all.AddRange(rows);
        var widths = header.Select((_, column) => all.Max(row => row[column].Length)).ToArray();
        foreach (var row in all)
        {
            var cells = row.Select((cell, column) =>
                column == row.Length - 1 && !rightAligned.Contains(column) ? cell
                : rightAligned.Contains(column) ? cell.PadLeft(widths[column])
                : cell.PadRight(widths[column]));
            text.Append(string.Join("  ", cells).TrimEnd()).Append('\n');
        }
    }
}
