using ShardRuntime.Runtime.Datagrams;
using ShardRuntime.Runtime.Dns;

namespace ShardRuntime.Runtime.Handlers;

/// <summary>
/// Serves a small authoritative DNS zone over UDP (RFC 1035 wire format): A, AAAA and TXT records of the names in its
/// <see cref="DnsStaticOptions"/>. Known as <c>dns-static</c>. The options are validated and compiled into reply
/// bytes once, here (one factory per handler generation); each shard's <see cref="DnsStaticHandler"/> shares them.
/// Thread-safe.
/// </summary>
public sealed class DnsStaticHandlerFactory : IDatagramHandlerFactory
{
    /// <summary>The name in configuration and in <c>status</c>.</summary>
    public const string HandlerName = "dns-static";

    private readonly DnsZone _zone;

    /// <summary>Compiles <paramref name="options"/>.</summary>
    /// <exception cref="DnsStaticOptionsException">An option is invalid; <see cref="DnsStaticOptionsException.Key"/> names it.</exception>
    public DnsStaticHandlerFactory(DnsStaticOptions options) => _zone = DnsZone.Compile(options);

    /// <inheritdoc />
    public string Name => HandlerName;

    /// <summary>How many names the zone holds.</summary>
    public int NameCount => _zone.NameCount;

    /// <inheritdoc />
    public IDatagramHandler Create(IDatagramContext context) => new DnsStaticHandler(_zone);
}
