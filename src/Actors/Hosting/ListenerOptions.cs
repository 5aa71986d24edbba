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

    /// <summary>
    /// Handler name: a built-in (<c>http-ok</c>, <c>echo</c>, <c>echo-async</c>) or one added with
    /// <see cref="ShardRuntimeOptions.AddHandler(Runtime.Connections.IConnectionHandlerFactory)"/> (span style) or
    /// <see cref="ShardRuntimeOptions.AddHandler(Runtime.Connections.IStreamConnectionHandlerFactory)"/> (async style).
    /// </summary>
    public string? Handler { get; set; }

    /// <summary>Listening sockets sharing the port; 0 = one per core.</summary>
    public int? Shards { get; set; }

    /// <summary>listen() backlog of each listening socket (<c>backlog</c> in reference.conf).</summary>
    public int? Backlog { get; set; }
    /// <summary>Open connections allowed across all shards of the listener (<c>max-connections</c> in reference.conf).</summary>
    public int? MaxConnections { get; set; }
    /// <summary>How long a connection on which no byte moved either way stays open (<c>idle-timeout</c> in reference.conf).</summary>
    public TimeSpan? IdleTimeout { get; set; }

    /// <summary>How long a connection may hold an incomplete request (see <c>request-head-timeout</c> in reference.conf).</summary>
    public TimeSpan? RequestHeadTimeout { get; set; }

    /// <summary>How long a retiring shard waits for its open connections to finish (<c>drain-timeout</c> in reference.conf).</summary>
    public TimeSpan? DrainTimeout { get; set; }
    /// <summary>Size of the pooled buffer a connection reads into (<c>receive-buffer-size</c> in reference.conf).</summary>
    public int? ReceiveBufferSize { get; set; }
    /// <summary>Unconsumed received bytes a handler may leave before its connection is closed (<c>max-receive-bytes</c> in reference.conf).</summary>
    public int? MaxReceiveBytes { get; set; }
    /// <summary>Queued, unsent bytes above which a connection stops reading (<c>max-pending-write-bytes</c> in reference.conf).</summary>
    public int? MaxPendingWriteBytes { get; set; }
    /// <summary>How long a gracefully closed connection keeps reading until the peer closes too (<c>linger-timeout</c> in reference.conf).</summary>
    public TimeSpan? LingerTimeout { get; set; }

    /// <summary>Whether the shard runs a connection's first turn itself (see <c>first-turn-in-shard</c> in reference.conf).</summary>
    public bool? FirstTurnInShard { get; set; }

    /// <summary>How a span-style handler is served: on the I/O loops or on the stream path (see <c>io</c> in reference.conf).</summary>
    public Settings.ConnectionIo? Io { get; set; }

    /// <summary>
    /// TLS on this listener (its <c>tls</c> block): set <see cref="ListenerTlsOptions.Certificate"/> and
    /// <see cref="ListenerTlsOptions.Key"/>, for example <c>l.Tls = new() { Certificate = "cert.pem", Key = "key.pem" }</c>.
    /// </summary>
    public ListenerTlsOptions? Tls { get; set; }

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
        Hocon.Set(sb, "io", Io?.ToString().ToLowerInvariant());
        if (Tls is not null)
        {
            sb.Append(Settings.ListenerTlsSettings.Key).Append(" {\n");
            Tls.AppendHocon(sb);
            sb.Append("}\n");
        }
    }
}
