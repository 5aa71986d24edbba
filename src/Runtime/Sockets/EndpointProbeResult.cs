namespace ShardRuntime.Runtime.Sockets;

/// <summary>What <see cref="EndpointProbe.Probe"/> found for one endpoint.</summary>
/// <param name="Options">The endpoint and protocol probed.</param>
/// <param name="Refusal">Why the kernel refused to bind it (the port held by another user, or without SO_REUSEPORT, ...); null when it bound.</param>
/// <param name="Sharing">
/// When it bound: the listening sockets already on the endpoint (this user's, with SO_REUSEPORT, or the bind would have
/// been refused), which a node binding it joins; empty when the endpoint is free.
/// </param>
/// <param name="ProcessIds">The processes holding <paramref name="Sharing"/>, as far as this process may see them.</param>
public sealed record EndpointProbeResult(
    ListenerSocketOptions Options,
    ListenerBindException? Refusal,
    IReadOnlyList<KernelSocketEntry> Sharing,
    IReadOnlyList<int> ProcessIds)
{
    /// <summary>Whether a node could bind the endpoint now.</summary>
    public bool Bindable => Refusal is null;
}
