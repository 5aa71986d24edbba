namespace ShardRuntime.Runtime.Loading;

/// <summary>
/// Where a listener's handler comes from when it is not built in: an assembly file and a type in it, as named in
/// HOCON (path + type).
/// </summary>
/// <param name="AssemblyPath">
/// The handler assembly (.dll). A relative path is taken relative to the process's current directory when loaded;
/// configuration should give absolute paths. The file is read into memory on every load, never kept open, so a
/// build may replace it while the node runs and the next reload picks the new file up.
/// </param>
/// <param name="TypeName">
/// The full name (namespace + name, nested types with '+') of a public, non-abstract class with a public
/// parameterless constructor that implements either
/// <list type="bullet">
/// <item><see cref="Connections.IConnectionHandlerFactory"/>: constructed once per generation, it creates the
/// handler of every connection (and may implement <see cref="IInitializableHandlerFactory"/> and
/// <see cref="IDisposable"/>), or</item>
/// <item><see cref="Connections.IConnectionHandler"/>: one instance is constructed per connection, and one at load
/// time as a check; its factory's <c>Name</c> is the type's name.</item>
/// </list>
/// A type implementing both is used as a factory.
/// </param>
public sealed record HandlerAssemblySpec(string AssemblyPath, string TypeName)
{
    /// <summary>
    /// Simple names of further assemblies that the handler must take from the host instead of its own folder, so
    /// that their types are the host's (for example <c>Akka</c> when the handler talks to actors). Always shared,
    /// whatever this says: ShardRuntime.Runtime (the handler contract), every other ShardRuntime.* assembly the host
    /// can load, and the framework's assemblies.
    /// </summary>
    public IReadOnlyList<string> SharedAssemblies { get; init; } = [];

    /// <summary>
    /// Directories the assembly (and its symbols and private dependencies) must lie in, judged by the real path the
    /// kernel opened (symbolic links and <c>..</c> resolved); a file elsewhere is refused. Null (the default): any
    /// path, for handlers the node's operator named in its own configuration. A node gives the directories of
    /// <c>shard-runtime.handler-directories</c> to handlers that came through the cluster.
    /// </summary>
    public IReadOnlyList<string>? AllowedDirectories { get; init; }
}
