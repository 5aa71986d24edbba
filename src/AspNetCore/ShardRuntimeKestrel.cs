using System.Net;
using Akka.Hosting;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ShardRuntime.Actors.Coordination;
using ShardRuntime.Actors.Hosting;

namespace ShardRuntime.AspNetCore;

/// <summary>
/// ASP.NET Core on ShardRuntime: <see cref="UseShardRuntime"/> makes Kestrel accept from ShardRuntime's sharded
/// SO_REUSEPORT sockets instead of its own, so the app gets live <c>scale</c>, <c>status</c> and zero-loss process
/// upgrades while Kestrel keeps doing HTTP/1.1, HTTP/2, middleware and everything else.
/// </summary>
public static class ShardRuntimeKestrel
{
    /// <summary>
    /// The name of the handler that hands a listener's connections to Kestrel. A listener configured in
    /// <see cref="UseShardRuntime"/> without a handler gets this one.
    /// </summary>
    public const string HandlerName = "kestrel";

    /// <summary>
    /// Serves the app's Kestrel endpoints from ShardRuntime listeners. <paramref name="configure"/> sets up ShardRuntime
    /// as <c>WithShardRuntime</c> does; every listener whose handler is unset or <see cref="HandlerName"/> becomes a Kestrel
    /// endpoint at its address (<paramref name="listen"/>, when given, configures each such endpoint: protocols, HTTPS, ...).
    /// ShardRuntime runs in its own actor system named <paramref name="actorSystemName"/>, started with the app.
    /// </summary>
    /// <exception cref="ArgumentException">A Kestrel listener has no endpoint, or not an IP address and port, or there is none.</exception>
    public static IWebHostBuilder UseShardRuntime(this IWebHostBuilder builder, Action<ShardRuntimeOptions> configure,
        Action<string, ListenOptions>? listen = null, string actorSystemName = "shardruntime")
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new ShardRuntimeOptions();
        configure(options);
        var endPoints = KestrelEndPoints(options);
        return builder.ConfigureServices(services =>
        {
            services.AddSingleton(sp => new KestrelBridge(endPoints,
                ct => sp.GetRequiredService<ActorRegistry>().GetAsync<Coordinator.Marker>(ct), TimeSpan.FromSeconds(60),
                sp.GetService<ILoggerFactory>()?.CreateLogger("ShardRuntime.AspNetCore.Sockets")));
            // Registered after Kestrel's socket transport, so Kestrel asks this one first (CanBind: only its endpoints).
            services.AddSingleton<IConnectionListenerFactory>(sp => sp.GetRequiredService<KestrelBridge>());
            services.AddAkka(actorSystemName, (akka, sp) => akka.WithShardRuntime(options.AddHandler(sp.GetRequiredService<KestrelBridge>())));
            services.AddSingleton<IStartupFilter, DrainingMiddleware>();
            services.Configure<KestrelServerOptions>(kestrel =>
            {
                foreach (var endPoint in endPoints)
                    kestrel.Listen(endPoint.EndPoint, l => listen?.Invoke(endPoint.Listener, l));
            });
        });
    }

    /// <summary>The listeners Kestrel serves: handler unset (set to <see cref="HandlerName"/> here) or <see cref="HandlerName"/>.</summary>
    internal static IReadOnlyList<KestrelEndPoint> KestrelEndPoints(ShardRuntimeOptions options)
    {
        var endPoints = new List<KestrelEndPoint>();
        foreach (var (name, listener) in options.Listeners)
        {
            listener.Handler ??= HandlerName;
            if (listener.Handler != HandlerName) continue;
            if (listener.EndPoint is null || !IPEndPoint.TryParse(listener.EndPoint, out var endPoint))
                throw new ArgumentException(
                    $"ShardRuntime listener '{name}': endpoint '{listener.EndPoint}' is not an IP address and port; " +
                    "Kestrel serves a listener at its address (for example 127.0.0.1:8080 or [::]:8080)", nameof(options));
            endPoints.Add(new KestrelEndPoint(name, endPoint));
        }
        if (endPoints.Count == 0)
            throw new ArgumentException($"UseShardRuntime: no listener is served by Kestrel (a listener with handler '{HandlerName}' or none)", nameof(options));
        return endPoints;
    }
}
