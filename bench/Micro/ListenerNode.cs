using System.Net;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ShardRuntime.Actors.Hosting;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Micro;

/// <summary>
/// A real node in this process, started the way user code starts one: a generic host with Akka.Hosting's
/// <c>AddAkka</c> and <c>WithShardRuntime</c>, serving one listener (<c>http-ok</c>) on 127.0.0.1, port 0. Neither the
/// control socket nor the upgrade socket is served (no socket files); the actor system is a local one (no cluster).
/// </summary>
internal sealed class ListenerNode : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly IHost _host;

    private ListenerNode(IHost host, IPEndPoint endPoint)
    {
        _host = host;
        EndPoint = endPoint;
    }

    /// <summary>Where the listener accepts.</summary>
    public IPEndPoint EndPoint { get; }

    public static ListenerNode Start(int shards)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddAkka("micro", akka => akka
            .AddHocon("shard-runtime.upgrade.enabled = off", HoconAddMode.Prepend)
            .WithShardRuntime(o =>
            {
                o.EnableControlSocket = false;
                o.AddListener("http", l =>
                {
                    l.EndPoint = "127.0.0.1:0";
                    l.Handler = "http-ok";
                    l.Shards = shards;
                });
            }));
        var host = builder.Build();
        host.StartAsync().GetAwaiter().GetResult();
        try
        {
            var coordinator = host.Services.GetRequiredService<ActorRegistry>().GetAsync<CoordinatorProtocol.Marker>().GetAwaiter().GetResult();
            var started = coordinator.Ask<object>(CoordinatorProtocol.WaitUntilStarted.Instance, Timeout).GetAwaiter().GetResult();
            if (started is not CoordinatorProtocol.Started) throw new InvalidOperationException($"the node did not start: {started}");
            var status = coordinator.Ask<CoordinatorProtocol.NodeStatus>(CoordinatorProtocol.GetStatus.Instance, Timeout).GetAwaiter().GetResult();
            var http = status.Listeners.Single(l => l.Name == "http");
            if (http.Shards.Count != shards) throw new InvalidOperationException($"the listener has {http.Shards.Count} shards, not {shards}");
            return new ListenerNode(host, IPEndPoint.Parse(http.EndPoint));
        }
        catch
        {
            host.StopAsync().GetAwaiter().GetResult();
            host.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        _host.StopAsync().GetAwaiter().GetResult();
        _host.Dispose();
    }
}
