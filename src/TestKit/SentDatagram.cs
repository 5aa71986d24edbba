using System.Net;
using System.Text;

namespace ShardRuntime.TestKit;

/// <summary>A datagram a handler sent through a <see cref="FakeDatagramContext"/>: to whom, and its payload.</summary>
/// <param name="Peer">The address it was sent to.</param>
/// <param name="Payload">Its bytes.</param>
public sealed record SentDatagram(EndPoint Peer, byte[] Payload)
{
    /// <summary><see cref="Payload"/> as UTF-8 text.</summary>
    public string Text => Encoding.UTF8.GetString(Payload);
}
