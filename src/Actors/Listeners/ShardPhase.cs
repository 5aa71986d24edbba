namespace ShardRuntime.Actors.Listeners;

/// <summary>
/// Where a shard is in its life; its actor's behaviour (<c>Become</c>) follows it. A UDP shard
/// (<see cref="DatagramShardActor"/>) goes through the same phases: accepting is receiving datagrams, and it has no
/// connections to wait for once its socket is closed.
/// </summary>
public enum ShardPhase
{
    /// <summary>Accepts new connections and serves them.</summary>
    Accepting,

    /// <summary>
    /// Holds its socket open without accepting (a successor accepts from the same kernel queue while the node watches it
    /// for the stability period); serves the connections it has. Accepts again when told to resume.
    /// </summary>
    Parked,

    /// <summary>
    /// Steered away from: accepts what is still queued (and what is in flight) until its group closes the socket;
    /// serves its connections.
    /// </summary>
    Retiring,

    /// <summary>Its socket is closed: lets its connections finish (or closes them at the deadline), then stops.</summary>
    Closing,
}

/// <summary>How a shard retires; its group closes the socket accordingly.</summary>
public enum RetireMode
{
    /// <summary>
    /// A scale-down, a listener removed or replaced: new connections are steered to the group's other sockets (if any),
    /// the shard accepts what is queued until the queue stays empty (bounded by retire-queue-timeout), then the socket
    /// closes. Nobody queued is reset.
    /// </summary>
    DrainQueue,

    /// <summary>Shutdown: the socket closes at once; open connections get the drain timeout, then are aborted.</summary>
    CloseNow,

    /// <summary>
    /// A successor accepts on the same kernel socket: only this process's copy closes, at once and without steering
    /// (the group is the successor's to steer); open connections are told they drain and at the deadline are closed
    /// gracefully (FIN after what is queued) before the rest is aborted after the linger time.
    /// </summary>
    LetGo,
}
