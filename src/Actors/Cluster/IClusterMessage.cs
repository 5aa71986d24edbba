namespace ShardRuntime.Actors.Cluster;

/// <summary>
/// Marker of everything that crosses between nodes (messages of <see cref="ClusterListeners"/> and the replicated
/// <see cref="ClusterListener"/>): reference.conf binds it to <see cref="ClusterMessageSerializer"/>.
/// </summary>
public interface IClusterMessage;
