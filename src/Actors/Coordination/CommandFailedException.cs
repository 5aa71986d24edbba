using Akka.Actor;

namespace ShardRuntime.Actors.Coordination;

/// <summary>
/// A command to the coordinator (<see cref="Coordinator.ICommand"/>) or to the cluster actor
/// (<see cref="Cluster.ClusterListeners.ICommand"/>) was refused or could not be carried out. The actor replies
/// <c>Status.Failure</c> with this exception, Akka's convention for a failed request: <c>Ask&lt;T&gt;</c> throws it, so
/// <c>await coordinator.Ask&lt;Coordinator.ScaledTo&gt;(new Coordinator.ScaleTo("web", 4))</c> either returns the typed
/// success or throws this, saying which command failed and why.
/// </summary>
public sealed class CommandFailedException : Exception
{
    /// <summary>The command that failed; <paramref name="reason"/> says why.</summary>
    /// <param name="command">The command that failed.</param>
    /// <param name="reason">Why it was refused or failed, and where there is one the way out.</param>
    /// <param name="invalidConfiguration">The refusal is the node's configuration file (the CLI exits 2 for it).</param>
    public CommandFailedException(object command, string reason, bool invalidConfiguration = false)
        : base($"{command.GetType().Name} failed: {reason}")
    {
        Command = command;
        Reason = reason;
        InvalidConfiguration = invalidConfiguration;
    }

    /// <summary>The command that failed.</summary>
    public object Command { get; }

    /// <summary>Why it failed, as the CLI prints it (the message adds the command's name).</summary>
    public string Reason { get; }

    /// <summary>
    /// The refusal is the node's configuration file (a reload of a file with an unknown key, a malformed value, a handler
    /// assembly that is not a regular file), which the CLI exits 2 for.
    /// </summary>
    public bool InvalidConfiguration { get; }

    /// <summary>The reply that refuses <paramref name="command"/>: <c>Status.Failure</c> with the exception.</summary>
    internal static Status.Failure Reply(object command, string reason, bool invalidConfiguration = false) =>
        new(new CommandFailedException(command, reason, invalidConfiguration));

    /// <summary>
    /// The refusal in <paramref name="answer"/> (a reply, or the exception an Ask threw wrapped in <c>Status.Failure</c>), or null.
    /// </summary>
    public static CommandFailedException? In(object? answer) => answer switch
    {
        Status.Failure { Cause: CommandFailedException failed } => failed,
        Status.Failure { Cause: AggregateException { InnerException: CommandFailedException failed } } => failed,
        CommandFailedException failed => failed,
        _ => null,
    };
}
