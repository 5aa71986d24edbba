using System.Net;
using ShardRuntime.Runtime.Datagrams;
using ShardRuntime.Runtime.Dns;

namespace ShardRuntime.Runtime.Handlers;

/// <summary>
/// One shard's <c>dns-static</c> responder: answers each query datagram from its generation's compiled zone (see
/// <see cref="DnsStaticOptions"/> for what it serves and how). Builds replies in a buffer of its own, so a query
/// costs no allocation; datagrams that get no reply (responses, fragments shorter than an ID) are dropped.
/// </summary>
public sealed class DnsStaticHandler : IDatagramHandler
{
    private readonly DnsZone _zone;
    private readonly byte[] _response;

    internal DnsStaticHandler(DnsZone zone)
    {
        _zone = zone;
        _response = new byte[Math.Max(zone.MaxUdpPayload, DnsResponder.MinResponseBuffer)];
    }

    /// <inheritdoc />
    public void OnDatagram(IDatagramContext context, ReadOnlySpan<byte> datagram, SocketAddress peer)
    {
        var length = DnsResponder.Respond(datagram, _response, _zone);
        if (length > 0)
            context.Reply(_response.AsSpan(0, length));
    }
}
