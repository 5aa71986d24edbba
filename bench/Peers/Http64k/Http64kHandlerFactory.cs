using ShardRuntime.Runtime.Connections;
using ShardRuntime.Runtime.Handlers;

namespace ShardRuntime.Peers.Http64k;

/// <summary>
/// The built-in <c>http-ok</c> handler with a 64 KiB body (64 Ki times <c>x</c>), named <c>http-64k</c>: what
/// bench/peers.sh's large-response scenario asks of ShardRuntime. Load it with
/// <c>handler-assembly = ".../Peers.Http64k.dll"</c>, <c>handler-type = "ShardRuntime.Peers.Http64k.Http64kHandlerFactory"</c>.
/// </summary>
public sealed class Http64kHandlerFactory : IConnectionHandlerFactory
{
    /// <summary>Length of the body of every response.</summary>
    public const int BodyLength = 64 * 1024;

    private readonly HttpOkHandlerFactory _inner =
        new(HttpOkHandler.DefaultMaxRequestHeadSize, CreateBody(), "http-64k");

    /// <inheritdoc />
    public string Name => _inner.Name;

    /// <inheritdoc />
    public IConnectionHandler Create(IConnectionContext context) => _inner.Create(context);

    private static byte[] CreateBody()
    {
        var body = new byte[BodyLength];
        Array.Fill(body, (byte)'x');
        return body;
    }
}
