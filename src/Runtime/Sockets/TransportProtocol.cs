namespace ShardRuntime.Runtime.Sockets;

/// <summary>The transport a listener serves; decides the socket type and which /proc/net table describes it.</summary>
public enum TransportProtocol
{
    /// <summary>A stream socket that is bound and then put into listen(); connections are accepted from it.</summary>
    Tcp,

    /// <summary>A datagram socket that is only bound; the kernel spreads flows across a reuseport group by 4-tuple hash.</summary>
    Udp,
}
