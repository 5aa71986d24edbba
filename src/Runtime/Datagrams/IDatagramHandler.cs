using System.Net;

namespace ShardRuntime.Runtime.Datagrams;

/// <summary>
/// The protocol object of one UDP shard socket for one handler generation, made by
/// <see cref="IDatagramHandlerFactory.Create"/> and driven by the socket's owner (in ShardRuntime.Actors its shard):
/// calls never overlap and each happens-after the one before, so a handler needs no locking. A UDP handler has no
/// connection: one instance serves every peer whose datagrams the kernel hands to its socket.
/// <para>
/// Exceptions are contained to the datagram: when <see cref="OnDatagram"/> throws, the runtime catches the exception,
/// counts it (as a handler failure of the listener, with the exception logged), discards the sends that call queued,
/// and goes on with the next datagram. The handler and its socket keep serving.
/// </para>
/// </summary>
public interface IDatagramHandler
{
    /// <summary>
    /// Called once per received datagram. <paramref name="datagram"/> is its whole payload and <paramref name="peer"/>
    /// the address it came from; both live in the runtime's reused buffers and are only valid during the call (copy
    /// what must outlive it: a new <see cref="SocketAddress"/> of the same family and size with its
    /// <see cref="SocketAddress.Buffer"/> copied; <c>new IPEndPoint(IPAddress.Any, 0).Create(peer)</c> turns it into an
    /// endpoint, allocating). Replies go through
    /// <see cref="IDatagramContext.Reply"/> or <see cref="IDatagramContext.SendTo(SocketAddress, ReadOnlySpan{byte})"/>;
    /// they are copied and sent in a batch after the call. Must not block: it runs on the socket's I/O loop.
    /// </summary>
    void OnDatagram(IDatagramContext context, ReadOnlySpan<byte> datagram, SocketAddress peer);

    /// <summary>
    /// A message sent to the shard's handler by another part of the program (for example another actor). There is no
    /// current peer: <see cref="IDatagramContext.Reply"/> throws, <see cref="IDatagramContext.SendTo(SocketAddress, ReadOnlySpan{byte})"/>
    /// works. An exception is contained as for <see cref="OnDatagram"/>.
    /// </summary>
    void OnMessage(IDatagramContext context, object message) { }

    /// <summary>
    /// Called exactly once when the socket stops calling this handler (its shard retired, its generation was replaced by
    /// a reload, or the node stops), after the last <see cref="OnDatagram"/>. No more sends are possible.
    /// </summary>
    void OnStopped(IDatagramContext context) { }
}
