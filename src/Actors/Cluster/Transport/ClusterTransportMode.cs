namespace ShardRuntime.Actors.Cluster.Transport;

/// <summary>How a node's actors can be reached from other processes.</summary>
public enum ClusterTransportMode
{
    /// <summary>A lone node: no remoting at all; only its control and upgrade sockets (0600, SO_PEERCRED) reach it.</summary>
    None,

    /// <summary>Akka.Remote over TLS; every peer presents a certificate signed by the trusted CA, and so does the node.</summary>
    MutualTls,

    /// <summary>Akka.Remote over plain TCP, no authentication: the operator asked for it (<c>insecure-transport = on</c>).</summary>
    Insecure,
}
