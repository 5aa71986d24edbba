namespace ShardRuntime.Actors.Hosting;

/// <summary>
/// The node did not start: a listener could not be bound or its files (TLS certificate and key, handler assembly) could
/// not be loaded, or the start did not finish within <c>shard-runtime.start-timeout</c>. <see cref="Reason"/> names the
/// listener, the key and the file. A host's <c>StartAsync</c> throws it (see
/// <see cref="ShardRuntimeHostingExtensions.WithShardRuntime(Akka.Hosting.AkkaConfigurationBuilder, ShardRuntimeOptions)"/>).
/// </summary>
public sealed class ShardRuntimeStartException : InvalidOperationException
{
    /// <summary>The node did not start, for <paramref name="reason"/>.</summary>
    /// <param name="reason">Why, as the coordinator says it (naming the listener, key and file), or the deadline missed.</param>
    /// <param name="inner">The coordinator's refusal or the timed-out Ask, if any.</param>
    public ShardRuntimeStartException(string reason, Exception? inner = null)
        : base($"ShardRuntime did not start: {reason}", inner)
    {
        Reason = reason;
    }

    /// <summary>Why the node did not start (the message adds what did not).</summary>
    public string Reason { get; }
}
