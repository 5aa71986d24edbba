using ShardRuntime.Runtime.Connections;

namespace ShardRuntime.Runtime.Handlers;

/// <summary>Creates an <see cref="HttpOkHandler"/> per connection. Known as <c>http-ok</c>. Thread-safe.</summary>
public sealed class HttpOkHandlerFactory : IConnectionHandlerFactory
{
    /// <summary>The name in configuration and in <c>status</c>.</summary>
    public const string HandlerName = "http-ok";

    /// <summary>Creates a factory whose handlers allow request heads of up to <paramref name="maxRequestHeadSize"/> bytes.</summary>
    /// <param name="maxRequestHeadSize">Limit of a request head (request line, header fields, final empty line) in bytes.</param>
    /// <exception cref="ArgumentOutOfRangeException">The limit is below <see cref="HttpOkHandler.MinRequestHeadSize"/>.</exception>
    public HttpOkHandlerFactory(int maxRequestHeadSize = HttpOkHandler.DefaultMaxRequestHeadSize)
    {
        HttpOkHandler.ValidateMaxRequestHeadSize(maxRequestHeadSize);
        MaxRequestHeadSize = maxRequestHeadSize;
    }

    /// <summary>Limit of a request head in bytes; a longer head is answered with 431 and the connection closed.</summary>
    public int MaxRequestHeadSize { get; }

    /// <inheritdoc />
    public string Name => HandlerName;

    /// <inheritdoc />
    public IConnectionHandler Create(IConnectionContext context) => new HttpOkHandler(MaxRequestHeadSize);
}
