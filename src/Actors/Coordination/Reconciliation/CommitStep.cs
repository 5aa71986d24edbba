using ShardRuntime.Actors.Settings;

namespace ShardRuntime.Actors.Coordination.Reconciliation;

/// <summary>
/// A step of a <see cref="Plan"/> that cannot fail once every acquire step succeeded: it starts or retires shards,
/// creates or retires a listener incarnation, or steers a group. The executor runs them in order.
/// </summary>
internal abstract record CommitStep(ListenerId Listener)
{
    /// <summary>
    /// The new incarnation <paramref name="Listener"/> becomes its name's listener, with the handlers its
    /// <see cref="AcquireStep.TakeHandlers"/> took and <see cref="ListenerSettings.EffectiveShards"/> as its desired count.
    /// The executor records incarnations up to this one as issued.
    /// </summary>
    public sealed record StartListener(ListenerId Listener, ListenerSettings Settings) : CommitStep(Listener)
    {
        /// <inheritdoc />
        public override string ToString() => $"start listener {Listener}";
    }

    /// <summary>An existing listener runs for <paramref name="Shards"/> shards now (its settings stay as they are).</summary>
    public sealed record SetDesired(ListenerId Listener, int Shards) : CommitStep(Listener)
    {
        /// <inheritdoc />
        public override string ToString() => $"desire {Shards} for {Listener}";
    }

    /// <summary>
    /// Start a shard on each socket, in the order they joined their group: the adopted ones (by inode) first, then the ones
    /// its bind made, in bind order. The executor records ids up to the highest as issued for the listener's name.
    /// </summary>
    public sealed record StartShards(ListenerId Listener, IReadOnlyList<NewShard> Shards) : CommitStep(Listener)
    {
        /// <inheritdoc />
        public override string ToString() => $"start shards [{string.Join(", ", Shards)}] of {Listener}";
    }

    /// <summary>
    /// Retire these accepting shards: steered away from while others of their group accept, each drains its accept queue
    /// before it closes.
    /// </summary>
    public sealed record RetireShards(ListenerId Listener, IReadOnlyList<int> ShardIds) : CommitStep(Listener)
    {
        /// <inheritdoc />
        public override string ToString() => $"retire shards [{string.Join(", ", ShardIds)}] of {Listener}";
    }

    /// <summary>
    /// The listener is no longer wanted (removed, or replaced by a new incarnation that started before this step): it stops
    /// being its name's listener and <paramref name="ShardIds"/> retire (none while a take-over defers them: the plan then
    /// lists their <see cref="RetireShards"/> among its deferred steps).
    /// </summary>
    public sealed record RetireListener(ListenerId Listener, IReadOnlyList<int> ShardIds) : CommitStep(Listener)
    {
        /// <inheritdoc />
        public override string ToString() => $"retire listener {Listener} with shards [{string.Join(", ", ShardIds)}]";
    }

    /// <summary>
    /// Switch the listener to its next handler generation (loaded beforehand): new connections get it, older generations'
    /// connections drain. <paramref name="ClusterGeneration"/>: the cluster-wide generation this follows.
    /// </summary>
    public sealed record ReloadHandlers(ListenerId Listener, int ClusterGeneration) : CommitStep(Listener)
    {
        /// <inheritdoc />
        public override string ToString() => $"reload {Listener} to cluster generation {ClusterGeneration}";
    }

    /// <summary>Attach this node's steering program to the listener's group (the take-over completed: the predecessor's program goes).</summary>
    public sealed record Steer(ListenerId Listener) : CommitStep(Listener)
    {
        /// <inheritdoc />
        public override string ToString() => $"steer {Listener}";
    }
}
