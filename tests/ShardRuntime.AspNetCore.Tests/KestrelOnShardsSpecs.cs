using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ShardRuntime.Actors.Coordination;
using ShardRuntime.AspNetCore;

namespace ShardRuntime.AspNetCore.Tests;

/// <summary>
/// An ordinary minimal API app whose Kestrel accepts from ShardRuntime's sharded reuseport sockets
/// (<see cref="ShardRuntimeKestrel.UseShardRuntime"/>), in this process, on loopback port 0.
/// </summary>
public sealed class KestrelOnShardsSpecs
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_minimal_api_app_serves_keepalive_requests_from_every_shard()
    {
        await using var app = await StartAsync(shards: 2);
        var endPoint = BoundEndPoint(app);

        using var client = new HttpClient();
        for (var i = 0; i < 20; i++)
        {
            var body = await client.GetStringAsync($"http://{endPoint}/hello?n={i}");
            Assert.Equal($"hello {i}", body);
        }

        var status = await Status(app);
        var listener = Assert.Single(status.Listeners);
        Assert.Equal(ShardRuntimeKestrel.HandlerName, listener.Handler);
        Assert.Equal(2, listener.Shards.Count(s => s.IsServing));
        Assert.Equal(endPoint.Port, KestrelBridge.ParseBound(listener.EndPoint).Port);
        Assert.True(listener.Accepted >= 1, $"the node accepted {listener.Accepted} connections");
    }

    [Fact]
    public async Task A_plain_tcp_connection_is_handed_to_Kestrels_own_socket_transport()
    {
        await using var app = await StartAsync(shards: 1);
        using var client = new HttpClient();
        // Kestrel's socket transport offers the connection's socket (IConnectionSocketFeature); the pipe path would not.
        Assert.Equal("kestrel sockets", await client.GetStringAsync($"http://{BoundEndPoint(app)}/transport"));
    }

    [Fact]
    public async Task Kestrels_own_https_serves_http2_over_alpn_on_the_sharded_sockets()
    {
        using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=localhost", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        await using var app = await StartAsync(shards: 2, listen: (_, l) =>
        {
            l.Protocols = HttpProtocols.Http1AndHttp2;
            l.UseHttps(certificate);
        });
        var endPoint = BoundEndPoint(app);

        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, presented, _, _) => presented?.Thumbprint == certificate.Thumbprint };
        using var client = new HttpClient(handler) { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var response = await client.GetAsync($"https://{endPoint}/hello?n=7");
        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal("hello 7", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Many_connections_are_spread_over_the_shards_and_served_by_Kestrel()
    {
        await using var app = await StartAsync(shards: 2);
        var endPoint = BoundEndPoint(app);

        for (var i = 0; i < 64; i++)
        {
            using var socket = await Clients.ConnectAsync(endPoint);
            var reply = await Clients.HttpGetAsync(socket, $"/hello?n={i}");
            Assert.Equal("HTTP/1.1 200 OK", reply.StatusLine);
            Assert.Equal($"hello {i}", reply.Body);
        }

        var shards = Assert.Single((await Status(app)).Listeners).Shards;
        Assert.Equal(64, shards.Sum(s => s.Accepted));
        Assert.All(shards, s => Assert.True(s.Accepted > 0, $"shard {s.ShardId} accepted none of 64 connections"));
    }

    [Fact]
    public async Task Http2_with_prior_knowledge_is_Kestrels_own()
    {
        await using var app = await StartAsync(shards: 2, listen: (_, l) => l.Protocols = HttpProtocols.Http2);
        var endPoint = BoundEndPoint(app);

        using var client = new HttpClient { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var response = await client.GetAsync($"http://{endPoint}/hello?n=2");
        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal("hello 2", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Scaling_from_code_keeps_serving_and_a_keepalive_connection_survives_it()
    {
        await using var app = await StartAsync(shards: 1);
        var endPoint = BoundEndPoint(app);
        using var kept = await Clients.ConnectAsync(endPoint);
        Assert.Equal("hello 0", (await Clients.HttpGetAsync(kept, "/hello?n=0")).Body);

        var coordinator = await Coordinator(app);
        var scaled = await coordinator.Ask<Coordinator.ScaledTo>(new Coordinator.ScaleTo("web", 3), AskTimeout);
        Assert.Equal(3, scaled.Shards);

        Assert.Equal("hello 1", (await Clients.HttpGetAsync(kept, "/hello?n=1")).Body);
        using var client = new HttpClient();
        for (var i = 0; i < 10; i++)
            Assert.Equal($"hello {i}", await client.GetStringAsync($"http://{endPoint}/hello?n={i}"));
        Assert.Equal(3, Assert.Single((await Status(app)).Listeners).Shards.Count(s => s.IsServing));
    }

    [Fact]
    public async Task A_reload_ends_an_idle_keepalive_connection_gracefully_through_Kestrel()
    {
        await using var app = await StartAsync(shards: 1);
        var endPoint = BoundEndPoint(app);
        using var kept = await Clients.ConnectAsync(endPoint);
        Assert.Equal("hello 0", (await Clients.HttpGetAsync(kept, "/hello?n=0")).Body);

        var coordinator = await Coordinator(app);
        await coordinator.Ask<Coordinator.Reloaded>(new Coordinator.Reload("web"), AskTimeout);

        // Kestrel learns that the node wants the connection to end (ConnectionClosedRequested) and closes the idle
        // keep-alive connection with a FIN: a read sees the end of the stream, not a reset, long before the drain
        // deadline would abort it.
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var n = await kept.ReceiveAsync(new byte[64], SocketFlags.None, cts.Token);
        Assert.Equal(0, n);
        // New connections are served by the new generation.
        using var client = new HttpClient();
        Assert.Equal("hello 5", await client.GetStringAsync($"http://{endPoint}/hello?n=5"));
    }

    [Fact]
    public async Task A_busy_keepalive_client_across_a_reload_gets_every_response_and_connection_close_on_the_last()
    {
        await using var app = await StartAsync(shards: 1);
        var endPoint = BoundEndPoint(app);
        using var busy = await Clients.ConnectAsync(endPoint);
        Assert.Equal("hello 0", (await Clients.HttpGetAsync(busy, "/hello?n=0")).Body);

        var coordinator = await Coordinator(app);
        var reload = coordinator.Ask<Coordinator.Reloaded>(new Coordinator.Reload("web"), AskTimeout);
        // Requests back to back on the one connection: each gets its full response; once the node drains, the next
        // response says Connection: close and the server closes after it (a FIN, with no request lost to the race).
        HttpReply? last = null;
        var sent = 0;
        while (sent < 5_000)
        {
            var reply = await Clients.HttpGetAsync(busy, $"/hello?n={++sent}");
            Assert.Equal($"hello {sent}", reply.Body);
            last = reply;
            if (reply.Head.Contains("Connection: close", StringComparison.OrdinalIgnoreCase)) break;
        }
        await reload;
        Assert.True(last!.Head.Contains("Connection: close", StringComparison.OrdinalIgnoreCase),
            $"no response said Connection: close in {sent} requests across the reload");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        Assert.Equal(0, await busy.ReceiveAsync(new byte[64], SocketFlags.None, cts.Token));
    }

    internal static async Task<WebApplication> StartAsync(int shards, Action<string, ListenOptions>? listen = null)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseShardRuntime(o =>
        {
            o.EnableControlSocket = false;
            o.AddListener("web", l =>
            {
                l.EndPoint = "127.0.0.1:0";
                l.Shards = shards;
            });
        }, listen, actorSystemName: "aspnetcore-specs");
        var app = builder.Build();
        app.MapGet("/hello", (HttpContext context) =>
        {
            var text = $"hello {context.Request.Query["n"]}";
            context.Response.ContentLength = text.Length;
            return context.Response.WriteAsync(text);
        });
        app.MapGet("/transport", (HttpContext context) =>
            context.Features.Get<Microsoft.AspNetCore.Connections.Features.IConnectionSocketFeature>() is null ? "pipe" : "kestrel sockets");
        await app.StartAsync();
        return app;
    }

    internal static IPEndPoint BoundEndPoint(WebApplication app)
    {
        var address = Assert.Single(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses);
        var uri = new Uri(address);
        return new IPEndPoint(IPAddress.Parse(uri.Host), uri.Port);
    }

    internal static Task<IActorRef> Coordinator(WebApplication app) =>
        app.Services.GetRequiredService<ActorRegistry>().GetAsync<Coordinator.Marker>();

    internal static async Task<Coordinator.NodeStatus> Status(WebApplication app) =>
        await (await Coordinator(app)).Ask<Coordinator.NodeStatus>(Actors.Coordination.Coordinator.GetStatus.Instance, AskTimeout);
}
