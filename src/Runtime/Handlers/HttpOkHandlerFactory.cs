using ShardRuntime.Runtime.Connections;

namespace ShardRuntime.Runtime.Handlers;

/// <summary>
/// Creates an <see cref="HttpOkHandler"/> per connection. Known as <c>http-ok</c>; one with another body goes by the
/// name it is given (added from code, <c>ShardRuntimeOptions.AddHandler</c>, or from a handler assembly). Thread-safe.
/// </summary>
public sealed class HttpOkHandlerFactory : IConnectionHandlerFactory
{
    /// <summary>The name in configuration and in <c>status</c>.</summary>
    public const string HandlerName = "http-ok";

    /// <summary>Creates a factory whose handlers allow request heads of up to <paramref name="maxRequestHeadSize"/> bytes.</summary>
    /// <param name="maxRequestHeadSize">Limit of a request head (request line, header fields, final empty line) in bytes.</param>
    /// <exception cref="ArgumentOutOfRangeException">The limit is below <see cref="HttpOkHandler.MinRequestHeadSize"/>.</exception>
    public HttpOkHandlerFactory(int maxRequestHeadSize = HttpOkHandler.DefaultMaxRequestHeadSize)
        : this(maxRequestHeadSize, HttpOkHandler.OkResponse.Default, HandlerName)
    {
    }

    /// <summary>Creates a factory, named <paramref name="name"/>, whose handlers answer with <paramref name="body"/>.</summary>
    /// <param name="maxRequestHeadSize">Limit of a request head (request line, header fields, final empty line) in bytes.</param>
    /// <param name="body">The body of every <c>200 OK</c> (copied once, shared by every connection).</param>
    /// <param name="name">The handler's name in configuration and in <c>status</c>.</param>
    /// <exception cref="ArgumentOutOfRangeException">The limit is below <see cref="HttpOkHandler.MinRequestHeadSize"/>.</exception>
    /// <exception cref="ArgumentException">The name is empty.</exception>
    public HttpOkHandlerFactory(int maxRequestHeadSize, ReadOnlyMemory<byte> body, string name)
        : this(maxRequestHeadSize, new HttpOkHandler.OkResponse(body.Span), name)
    {
    }

    private HttpOkHandlerFactory(int maxRequestHeadSize, HttpOkHandler.OkResponse response, string name)
    {
        HttpOkHandler.ValidateMaxRequestHeadSize(maxRequestHeadSize);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        MaxRequestHeadSize = maxRequestHeadSize;
        _response = response;
        Name = name;
    }

    private readonly HttpOkHandler.OkResponse _response;

    /// <summary>Limit of a request head in bytes; a longer head is answered with 431 and the connection closed.</summary>
    public int MaxRequestHeadSize { get; }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>Length of the body every response carries.</summary>
    public int BodyLength => _response.Body.Length;

    /// <inheritdoc />
    public IConnectionHandler Create(IConnectionContext context) => new HttpOkHandler(MaxRequestHeadSize, _response);
}
