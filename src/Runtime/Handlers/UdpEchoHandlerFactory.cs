using ShardRuntime.Runtime.Datagrams;

namespace ShardRuntime.Runtime.Handlers;

/// <summary>Serves every socket with <see cref="UdpEchoHandler"/>. Known as <c>udp-echo</c>.</summary>
public sealed class UdpEchoHandlerFactory : IDatagramHandlerFactory
{
    /// <summary>The name in configuration and in <c>status</c>.</summary>
    public const string HandlerName = "udp-echo";

    /// <inheritdoc />
    public string Name => HandlerName;

    /// <inheritdoc />
    public IDatagramHandler Create(IDatagramContext context) => UdpEchoHandler.Instance;
}
