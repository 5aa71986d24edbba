using System.Net;
using ShardRuntime.Runtime.Datagrams;

namespace ShardRuntime.Runtime.Handlers;

/// <summary>Replies to every datagram with the same bytes (an empty datagram gets an empty one). Stateless: one instance serves every shard.</summary>
public sealed class UdpEchoHandler : IDatagramHandler
{
    /// <summary>The one instance; it keeps no state.</summary>
    public static UdpEchoHandler Instance { get; } = new();

    private UdpEchoHandler()
    {
    }

    /// <inheritdoc />
    public void OnDatagram(IDatagramContext context, ReadOnlySpan<byte> datagram, SocketAddress peer) => context.Reply(datagram);
}
