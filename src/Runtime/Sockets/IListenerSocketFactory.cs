using System.Net.Sockets;

namespace ShardRuntime.Runtime.Sockets;

/// <summary>
/// Creates listening sockets: the seam between the runtime and the OS, as in Kestrel's socket transport.
/// The runtime binds every listener shard through it, so tests can fake it and hosts can replace it
/// (for example with one that hands out sockets inherited from systemd or from a previous process).
/// </summary>
public interface IListenerSocketFactory
{
    /// <summary>
    /// Returns a bound socket (listening, for TCP) that the caller owns and must dispose.
    /// Throws <see cref="ListenerBindException"/> when the kernel refuses the endpoint; no socket is left open then.
    /// </summary>
    Socket Bind(ListenerSocketOptions options);
}
