namespace ShardRuntime.Runtime.Datagrams;

/// <summary>
/// Creates the <see cref="IDatagramHandler"/> of every socket of a UDP listener: one factory per handler generation
/// (as <see cref="Connections.IConnectionHandlerFactory"/> is for TCP; a reload makes a new one), and from it one
/// handler per shard socket. Must be thread-safe: shards on different I/O loops create their handlers concurrently.
/// A factory that also implements <see cref="IDisposable"/> and comes from a user assembly is disposed when its
/// generation unloads.
/// </summary>
public interface IDatagramHandlerFactory
{
    /// <summary>The name the handler is known by in configuration and in <c>status</c> (for example <c>udp-echo</c>).</summary>
    string Name { get; }

    /// <summary>
    /// Creates the handler of one shard socket, before its first datagram. <paramref name="context"/> is the context
    /// every later call of that handler gets (it has no current peer yet).
    /// </summary>
    IDatagramHandler Create(IDatagramContext context);
}
