using System.Text;
using Akka.Configuration;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Connections;

namespace ShardRuntime.Actors.Hosting;

/// <summary>
/// ShardRuntime settings set from code for <see cref="ShardRuntimeHostingExtensions.WithShardRuntime(Akka.Hosting.AkkaConfigurationBuilder, ShardRuntimeOptions)"/>.
/// Every value is optional: only the values set become HOCON, prepended over the rest of the configuration.
/// </summary>
public sealed class ShardRuntimeOptions
{
    private readonly List<IConnectionHandlerFactory> _handlers = new();
    private readonly List<IStreamConnectionHandlerFactory> _streamHandlers = new();

    /// <summary>Listeners by name.</summary>
    public Dictionary<string, ListenerOptions> Listeners { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Path of the control socket the CLI talks to. Unset: one of this actor system's own in the runtime directory
    /// (<c>&lt;actor system&gt;.&lt;pid&gt;.&lt;n&gt;.control.sock</c>, logged when bound), so that no two nodes collide.
    /// </summary>
    public string? ControlSocketPath { get; set; }

    /// <summary>How long the node waits for open connections on shutdown.</summary>
    public TimeSpan? ShutdownDrainTimeout { get; set; }

    /// <summary>
    /// Whether to serve the control socket, through which the CLI (<c>shardruntime status --control-socket ...</c>) of the
    /// same user changes the node (<c>control.enabled</c>; off unless set, on in the host).
    /// </summary>
    public bool? EnableControlSocket { get; set; }

    /// <summary>
    /// Whether to serve the upgrade socket, through which a successor process of the same user adopts the listening
    /// sockets (<c>upgrade.enabled</c>; off unless set, on in the host). Next to the control socket unless
    /// <c>upgrade.socket-path</c> says otherwise.
    /// </summary>
    public bool? EnableUpgradeSocket { get; set; }

    /// <summary>I/O loop threads (<c>io-loops</c>; 0 = one per core).</summary>
    public int? IoLoops { get; set; }

    /// <summary>
    /// Whether shard and connection actors run on their I/O loop's thread (<c>actors-on-io-loops</c>, on by default);
    /// turn it off for handlers that block.
    /// </summary>
    public bool? ActorsOnIoLoops { get; set; }

    /// <summary>How long an I/O loop may be held up in one turn before a warning is logged (<c>io-loop-hold-up-warning</c>, 1 s by default).</summary>
    public TimeSpan? IoLoopHoldUpWarning { get; set; }

    /// <summary>How long a handler assembly's load may take before it is refused (<c>handler-load-timeout</c>, 5 s by default).</summary>
    public TimeSpan? HandlerLoadTimeout { get; set; }

    /// <summary>
    /// Absolute directories from which listeners defined through the cluster's desired state may load handler assemblies
    /// (<c>handler-directories</c>; none by default: built-in handlers only).
    /// </summary>
    public IReadOnlyList<string>? HandlerDirectories { get; set; }

    /// <summary>
    /// Where a reload of every listener (CLI <c>reload</c>, SIGHUP) reads the listeners again, for example from the
    /// configuration file the node started with; throw to refuse the reload with the exception's message. Not HOCON:
    /// code only. Null (the default): a reload reloads handler code only.
    /// </summary>
    public Func<IReadOnlyList<ListenerSettings>>? ReloadListeners { get; set; }

    /// <summary>
    /// Process upgrades: sockets inherited from a predecessor or systemd, the process generation, and how to start a
    /// successor, as the host sets them. Not HOCON: code only. Null (the default): every socket is bound here and
    /// <c>upgrade</c> is refused unless <see cref="EnableUpgrade"/> was called (an app's own upgrades), though a
    /// successor started by hand (<c>run --upgrade-from</c>) is still served.
    /// </summary>
    public Coordination.UpgradeOptions? Upgrade { get; set; }

    /// <summary>
    /// The command that starts this app again as the successor for a process upgrade, set by <see cref="EnableUpgrade"/>;
    /// null: the app does not upgrade itself. Not HOCON: code only.
    /// </summary>
    public Func<System.Diagnostics.ProcessStartInfo>? UpgradeSuccessor { get; set; }

    /// <summary>Handler factories of user code, in addition to the built-ins.</summary>
    public IReadOnlyList<IConnectionHandlerFactory> Handlers => _handlers;

    /// <summary>Handler factories of user code in the async style (<see cref="IStreamConnectionHandler"/>), in addition to the built-ins.</summary>
    public IReadOnlyList<IStreamConnectionHandlerFactory> StreamHandlers => _streamHandlers;

    /// <summary>Declares (or extends) a listener.</summary>
    public ShardRuntimeOptions AddListener(string name, Action<ListenerOptions> configure)
    {
        ListenerSettings.ValidateName(name, $"{ShardRuntimeSettings.Section}.listeners");
        if (!Listeners.TryGetValue(name, out var listener))
            Listeners[name] = listener = new ListenerOptions();
        configure(listener);
        return this;
    }

    /// <summary>
    /// Lets <c>shardruntime upgrade</c> (or an Ask of <see cref="Coordination.Coordinator.Upgrade"/>) replace this app's
    /// process with a new one without losing a connection: the node serves the upgrade socket, starts
    /// <paramref name="successor"/> (default: <see cref="EmbeddedUpgrade.OwnCommand"/>, this app's own executable and
    /// arguments) with <see cref="EmbeddedUpgrade.UpgradeFromVariable"/> set, hands the new process every listening socket,
    /// and drains once it accepts; its actor system then ends. A process started with that variable takes the sockets
    /// over as ShardRuntime starts (see <see cref="EmbeddedUpgrade"/>). Not with <see cref="Upgrade"/>, which is the host's.
    /// </summary>
    /// <param name="successor">How to start the successor; called at each upgrade (the variables are added to it).</param>
    public ShardRuntimeOptions EnableUpgrade(Func<System.Diagnostics.ProcessStartInfo>? successor = null)
    {
        UpgradeSuccessor = successor ?? EmbeddedUpgrade.OwnCommand;
        EnableUpgradeSocket = true;
        return this;
    }

    /// <summary>Makes a handler of user code available by its name.</summary>
    public ShardRuntimeOptions AddHandler(IConnectionHandlerFactory factory)
    {
        _handlers.Add(factory);
        return this;
    }

    /// <summary>
    /// Makes an async-style handler of user code (one that awaits: a task per connection off the I/O loops) available by
    /// its name; a listener names it with <c>handler</c> as any other.
    /// </summary>
    public ShardRuntimeOptions AddHandler(IStreamConnectionHandlerFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        _streamHandlers.Add(factory);
        return this;
    }

    /// <summary>The HOCON these options stand for (only the values set).</summary>
    public Config ToConfig() => ConfigurationFactory.ParseString(ToHocon());

    /// <summary>The HOCON text these options stand for (only the values set).</summary>
    public string ToHocon()
    {
        var sb = new StringBuilder();
        sb.Append(ShardRuntimeSettings.Section).Append(" {\n");
        if (Listeners.Count > 0)
        {
            sb.Append("listeners {\n");
            foreach (var (name, listener) in Listeners)
            {
                sb.Append(name).Append(" {\n");
                listener.AppendHocon(sb);
                sb.Append("}\n");
            }
            sb.Append("}\n");
        }
        Hocon.Set(sb, "io-loops", IoLoops);
        Hocon.Set(sb, "actors-on-io-loops", ActorsOnIoLoops);
        Hocon.Set(sb, "io-loop-hold-up-warning", IoLoopHoldUpWarning);
        Hocon.Set(sb, "handler-load-timeout", HandlerLoadTimeout);
        Hocon.Set(sb, "handler-directories", HandlerDirectories);
        if (ControlSocketPath is not null || EnableControlSocket is not null)
        {
            sb.Append("control {\n");
            Hocon.Set(sb, "socket-path", ControlSocketPath);
            Hocon.Set(sb, "enabled", EnableControlSocket);
            sb.Append("}\n");
        }
        if (EnableUpgradeSocket is not null)
        {
            sb.Append("upgrade {\n");
            Hocon.Set(sb, "enabled", EnableUpgradeSocket);
            sb.Append("}\n");
        }
        if (ShutdownDrainTimeout is not null)
        {
            sb.Append("shutdown {\n");
            Hocon.Set(sb, "drain-timeout", ShutdownDrainTimeout);
            sb.Append("}\n");
        }
        sb.Append("}\n");
        return sb.ToString();
    }
}
