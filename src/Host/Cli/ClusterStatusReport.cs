using System.Globalization;
using System.Text;
using ShardRuntime.Actors.Cluster;

namespace ShardRuntime.Host.Cli;

/// <summary>
/// The human-readable <c>status --cluster</c>: the cluster line, the desired state, a table of members (unreachable ones
/// marked), then each answering member's listeners; and <c>listener show</c>'s table.
/// </summary>
internal static class ClusterStatusReport
{
    public static string Format(ClusterListeners.ClusterStatus cluster)
    {
        var text = new StringBuilder();
        var unreachable = cluster.Members.Count(m => !m.Reachable);
        text.Append(CultureInfo.InvariantCulture,
            $"cluster of {cluster.Members.Count} node(s){(unreachable > 0 ? $", {unreachable} UNREACHABLE" : "")}; leader {cluster.Leader ?? "none"}; asked {cluster.SelfAddress}\n");
        if (cluster.Removed is { } removed)
            text.Append(CultureInfo.InvariantCulture, $"{removed}\n");
        foreach (var insecure in cluster.Members.Where(m => m.Node is { InsecureTransport: true }))
            text.Append(CultureInfo.InvariantCulture, $"WARNING: {insecure.Address}: cluster transport {insecure.Node!.Transport}\n");
        text.Append('\n').Append(FormatDesired(cluster.Desired)).Append('\n');
        StatusReport.AppendTable(text, ["NODE", "ROLES", "STATUS", "REACHABLE", "PID", "PROCESS GEN", "LISTENERS", "FOLLOWING"],
            cluster.Members.Select(m => new[]
            {
                m.Address,
                m.Roles.Count == 0 ? "-" : string.Join(",", m.Roles),
                m.Status,
                m.Reachable ? "yes" : "UNREACHABLE",
                m.Node is { } n ? StatusReport.Number(n.ProcessId) : "-",
                m.Node is { } g ? StatusReport.Number(g.ProcessGeneration) : "-",
                m.Node is { } l ? StatusReport.Number(l.Listeners.Count) : "-",
                m.Following ?? m.Error ?? "-",
            }),
            rightAligned: []);
        foreach (var member in cluster.Members.Where(m => m.Node is not null))
        {
            text.Append(CultureInfo.InvariantCulture, $"\n{member.Address}:\n");
            if (member.Node!.Listeners.Count == 0)
            {
                text.Append("  no listeners\n");
                continue;
            }
            StatusReport.AppendTable(text, ["  LISTENER", "ENDPOINT", "SHARDS", "DESIRED", "OPEN", "ACCEPTED", "GENERATION"],
                member.Node.Listeners.Select(l => new[]
                {
                    "  " + l.Name, l.EndPoint, StatusReport.Number(l.Shards.Count(s => s.IsServing)), StatusReport.Number(l.DesiredShards),
                    StatusReport.Number(l.OpenConnections), StatusReport.Number(l.Accepted), StatusReport.Number(l.Generation),
                }),
                rightAligned: [2, 3, 4, 5, 6]);
        }
        return text.ToString();
    }

    public static string FormatDesired(IReadOnlyList<ClusterListener> desired)
    {
        if (desired.Count == 0)
            return "desired state: empty (every node serves its own configuration)\n";
        var text = new StringBuilder("desired state:\n");
        StatusReport.AppendTable(text, ["  LISTENER", "SHARDS/NODE", "BY ROLE", "SERVED BY", "HANDLER GEN", "DEFINITION", "CHANGED"],
            desired.Select(l => new[]
            {
                "  " + l.Name,
                l.Removed ? "REMOVED" : l.Shards is { } s ? StatusReport.Number(s) : "as configured",
                l.ShardsByRole.Count == 0 ? "-" : string.Join(",", l.ShardsByRole.Select(r => $"{r.Key}={r.Value}")),
                l.Roles.Count == 0 ? "every node" : string.Join(",", l.Roles),
                StatusReport.Number(l.HandlerGeneration),
                l.Definition is null ? "node's file" : "{ " + l.Definition.ReplaceLineEndings(", ") + " }",
                $"{l.ChangedAt:HH:mm:ss} by {l.ChangedBy}",
            }),
            rightAligned: []);
        return text.ToString();
    }
}
