using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace ShardRuntime.AspNetCore;

/// <summary>
/// First in the app's pipeline (an <see cref="IStartupFilter"/>, added by <see cref="ShardRuntimeKestrel.UseShardRuntime"/>):
/// counts each connection's requests in flight for <see cref="KestrelConnection"/>'s drain, and answers an HTTP/1.x
/// request that arrives on a connection the node drains with <c>Connection: close</c>, so that Kestrel closes the
/// connection after the response: the client learns it from the response and never races the close (as
/// <c>http-ok</c> does on the loop path).
/// </summary>
internal sealed class DrainingMiddleware : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(static async (context, nextMiddleware) =>
        {
            if (context.Features.Get<KestrelConnection>() is not { } connection)
            {
                await nextMiddleware(context).ConfigureAwait(false);
                return;
            }
            var multiplexed = !HttpProtocol.IsHttp10(context.Request.Protocol) && !HttpProtocol.IsHttp11(context.Request.Protocol);
            connection.RequestStarted(multiplexed);
            try
            {
                if (!multiplexed && connection.IsDraining) context.Response.Headers.Connection = "close";
                await nextMiddleware(context).ConfigureAwait(false);
            }
            finally
            {
                connection.RequestEnded();
            }
        });
        next(app);
    };
}
