using System.Net;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ShardRuntime.Actors.Hosting;
using ShardRuntime.Tests.Shared;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Tests.Hosting;

/// <summary>
/// A generic host with <c>WithShardRuntime</c> whose listener loads files off the coordinator's thread (TLS): its
/// <c>StartAsync</c> returns once the listener serves, and throws, naming the key and the file, when it cannot.
/// </summary>
public sealed class HostingStartSpecs : IDisposable
{
    private readonly TlsTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    /// <summary>A host with one echo listener "upper" on 127.0.0.1:0 whose tls block <paramref name="tlsHocon"/> sets in HOCON.</summary>
    private static IHost HoconTlsHost(string systemName, string tlsHocon)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddAkka(systemName, akka => akka
            .AddHocon($"shard-runtime.listeners.upper.tls {{ {tlsHocon} }}", HoconAddMode.Prepend)
            .WithShardRuntime(o => o.AddListener("upper", l =>
            {
                l.EndPoint = "127.0.0.1:0";
                l.Handler = "echo";
                l.Shards = 1;
            })));
        return builder.Build();
    }

    [Fact]
    public async Task StartAsync_must_return_once_a_TLS_listener_serves_so_that_ScaleTo_and_GetStatus_see_it_at_once()
    {
        var (certificate, key) = _files.Server("upper");
        using var host = HoconTlsHost("hosting-start-tls", $"certificate = {Hocon.Quote(certificate)}, key = {Hocon.Quote(key)}");
        await host.StartAsync();
        try
        {
            // As README's "As a library" sample does it: straight after StartAsync, no wait of its own.
            var coordinator = await host.Services.GetRequiredService<ActorRegistry>().GetAsync<CoordinatorProtocol.Marker>();
            var scaled = await coordinator.Ask<CoordinatorProtocol.ScaledTo>(new CoordinatorProtocol.ScaleTo("upper", 3), Clients.Timeout);
            Assert.Equal(3, scaled.Shards);
            var status = await coordinator.Ask<CoordinatorProtocol.NodeStatus>(CoordinatorProtocol.GetStatus.Instance, Clients.Timeout);
            var upper = Assert.Single(status.Listeners);
            Assert.Equal("upper", upper.Name);
            Assert.Equal(3, upper.Shards.Count(s => s.IsServing));

            using var client = await TlsClient.ConnectAsync(IPEndPoint.Parse(upper.EndPoint), _files);
            Assert.Equal("over tls", await client.EchoAsync("over tls"));
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task StartAsync_must_fail_naming_the_key_and_the_file_when_the_TLS_key_file_is_missing()
    {
        var (certificate, _) = _files.Server("upper");
        var missingKey = Path.Combine(_files.Directory, "no-such-key.pem");
        using var host = HoconTlsHost("hosting-start-nokey", $"certificate = {Hocon.Quote(certificate)}, key = {Hocon.Quote(missingKey)}");

        var failed = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync().WaitAsync(Clients.Timeout));

        Assert.IsType<ShardRuntimeStartException>(failed);
        Assert.Contains("shard-runtime.listeners.upper.tls.key", failed.Message);
        Assert.Contains(missingKey, failed.Message);
        await host.StopAsync();
    }

    [Fact]
    public async Task StartAsync_must_return_with_the_control_socket_bound_and_fail_naming_its_path_when_it_cannot_be()
    {
        var served = Path.Combine(_files.Directory, "control.sock");
        using (var host = ControlHost("hosting-start-control", served))
        {
            await host.StartAsync();
            try
            {
                Assert.True(File.Exists(served), "StartAsync returned before the control socket was bound");
            }
            finally
            {
                await host.StopAsync();
            }
        }

        var inTheWay = Path.Combine(_files.Directory, "in-the-way.sock");
        await File.WriteAllTextAsync(inTheWay, "not a socket");
        using var refused = ControlHost("hosting-start-control-refused", inTheWay);
        var failed = await Assert.ThrowsAsync<ShardRuntimeStartException>(() => refused.StartAsync().WaitAsync(Clients.Timeout));
        Assert.Contains($"control socket {inTheWay}", failed.Message);
        await refused.StopAsync();
    }

    private static IHost ControlHost(string systemName, string controlSocket)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddAkka(systemName, akka => akka.WithShardRuntime(o =>
        {
            o.EnableControlSocket = true;
            o.ControlSocketPath = controlSocket;
            o.AddListener("upper", l =>
            {
                l.EndPoint = "127.0.0.1:0";
                l.Handler = "echo";
                l.Shards = 1;
            });
        }));
        return builder.Build();
    }
}
