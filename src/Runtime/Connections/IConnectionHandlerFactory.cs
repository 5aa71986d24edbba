namespace ShardRuntime.Runtime.Connections;

/// <summary>Creates one <see cref="IConnectionHandler"/> per accepted connection. Must be thread-safe.</summary>
public interface IConnectionHandlerFactory
{
    /// <summary>The name the handler is known by in configuration and in <c>status</c> (for example <c>http-ok</c>).</summary>
    string Name { get; }

    /// <summary>Creates the handler of a new connection.</summary>
    IConnectionHandler Create(IConnectionContext context);
}
