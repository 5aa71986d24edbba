using System.Net;
using System.Text;
using ShardRuntime.Runtime.Datagrams;

namespace SampleHandlers;

/// <summary>A datagram handler named directly as the type (one instance per socket): replies "v1:" or "v2:" and the datagram.</summary>
public sealed class ShoutDatagramHandler : IDatagramHandler
{
    private static readonly byte[] Prefix = Encoding.ASCII.GetBytes(SampleVersion.Text + ":");

    /// <inheritdoc />
    public void OnDatagram(IDatagramContext context, ReadOnlySpan<byte> datagram, SocketAddress peer)
    {
        var reply = new byte[Prefix.Length + datagram.Length];
        Prefix.CopyTo(reply, 0);
        datagram.CopyTo(reply.AsSpan(Prefix.Length));
        context.Reply(reply);
    }
}

/// <summary>The factory of <see cref="ShoutDatagramHandler"/>.</summary>
public sealed class ShoutDatagramFactory : IDatagramHandlerFactory
{
    /// <inheritdoc />
    public string Name => "shout";

    /// <inheritdoc />
    public IDatagramHandler Create(IDatagramContext context) => new ShoutDatagramHandler();
}
