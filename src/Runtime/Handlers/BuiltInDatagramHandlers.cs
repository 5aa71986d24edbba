using ShardRuntime.Runtime.Datagrams;
using ShardRuntime.Runtime.Dns;

namespace ShardRuntime.Runtime.Handlers;

/// <summary>
/// The datagram (UDP) handlers that ship with ShardRuntime, by the name configuration uses for them: <c>udp-echo</c>,
/// and <c>dns-static</c>, which needs its zone (<see cref="DnsStaticOptions"/>, read from the listener's
/// <c>dns-static</c> block).
/// </summary>
public static class BuiltInDatagramHandlers
{
    /// <summary>The names of the built-in datagram handlers, in ordinal order.</summary>
    public static IReadOnlyCollection<string> Names { get; } = Array.AsReadOnly(new[] { DnsStaticHandlerFactory.HandlerName, UdpEchoHandlerFactory.HandlerName });

    /// <summary>Creates the factory of the built-in datagram handler named <paramref name="name"/> (one per generation).</summary>
    /// <param name="name">The handler's exact (case-sensitive) name.</param>
    /// <param name="dnsStatic">The zone of <c>dns-static</c>; ignored by the others.</param>
    /// <exception cref="ArgumentException">No built-in datagram handler has that name (the message lists the known ones), or <c>dns-static</c> was given no options.</exception>
    /// <exception cref="DnsStaticOptionsException">The <c>dns-static</c> options are invalid; names the option.</exception>
    public static IDatagramHandlerFactory Create(string name, DnsStaticOptions? dnsStatic = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name switch
        {
            UdpEchoHandlerFactory.HandlerName => new UdpEchoHandlerFactory(),
            DnsStaticHandlerFactory.HandlerName => new DnsStaticHandlerFactory(
                dnsStatic ?? throw new ArgumentException("The dns-static handler needs its options (ttl, max-udp-payload, records).", nameof(dnsStatic))),
            _ => throw new ArgumentException($"Unknown built-in datagram handler '{name}'. Known datagram handlers: {string.Join(", ", Names)}.", nameof(name)),
        };
    }
}
