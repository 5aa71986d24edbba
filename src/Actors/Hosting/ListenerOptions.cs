using System.Text;

namespace ShardRuntime.Actors.Hosting;

/// <summary>
/// One listener declared from code. Only the values set become HOCON under
/// <c>shard-runtime.listeners.&lt;name&gt;</c>; the rest come from reference.conf's listener-defaults.
/// </summary>
public sealed class ListenerOptions
{
    /// <summary>Address and port, for example <c>127.0.0.1:8080</c> or <c>[::1]:8080</c>. Required.</summary>
    public string? EndPoint { get; set; }

    /// <summary>Handler name: a built-in (<c>http-ok</c>, <c>echo</c>) or one added with <see cref="ShardRuntimeOptions.AddHandler"/>.</summary>
    public string? Handler { get; set; }

    /// <summary>Listening sockets sharing the port; 0 = one per core.</summary>
    public int? Shards { get; set; }

    public int? Backlog { get; set; }
    public int? MaxConnections { get; set; }
    public TimeSpan? IdleTimeout { get; set; }

    /// <summary>How long a connection may hold an incomplete request (see <c>request-head-timeout</c> in reference.conf).</summary>
    public TimeSpan? RequestHeadTimeout { get; set; }

    public TimeSpan? DrainTimeout { get; set; }
    public int? ReceiveBufferSize { get; set; }
    public int? MaxReceiveBytes { get; set; }
    public int? MaxPendingWriteBytes { get; set; }
    public TimeSpan? LingerTimeout { get; set; }

    /// <summary>Whether the shard runs a connection's first turn itself (see <c>first-turn-in-shard</c> in reference.conf).</summary>
    public bool? FirstTurnInShard { get; set; }

    internal void AppendHocon(StringBuilder sb)
    {
        Hocon.Set(sb, "endpoint", EndPoint);
        Hocon.Set(sb, "handler", Handler);
        Hocon.Set(sb, "shards", Shards);
        Hocon.Set(sb, "backlog", Backlog);
        Hocon.Set(sb, "max-connections", MaxConnections);
        Hocon.Set(sb, "idle-timeout", IdleTimeout);
        Hocon.Set(sb, "request-head-timeout", RequestHeadTimeout);
        Hocon.Set(sb, "drain-timeout", DrainTimeout);
        Hocon.Set(sb, "receive-buffer-size", ReceiveBufferSize);
        Hocon.Set(sb, "max-receive-bytes", MaxReceiveBytes);
        Hocon.Set(sb, "max-pending-write-bytes", MaxPendingWriteBytes);
        Hocon.Set(sb, "linger-timeout", LingerTimeout);
        Hocon.Set(sb, "first-turn-in-shard", FirstTurnInShard);
    }
}
