using System.Net;
using System.Security.Authentication;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ShardRuntime.Actors.Hosting;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Tls;
using ShardRuntime.Tests.Shared;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Tests.Hosting;

/// <summary>
/// TLS on a listener declared from code (<see cref="ListenerOptions.Tls"/>): it becomes the listener's tls block (read
/// back by the real settings, paths with spaces, quotes and backslashes intact) and the listener serves TLS clients.
/// </summary>
public sealed class ListenerTlsOptionsSpecs : IDisposable
{
    private const string OddDirectory = "my \"odd\" dir\\with spaces";

    private readonly TlsTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public void Tls_options_must_become_the_tls_block_that_reads_back_into_the_same_settings()
    {
        var dir = "/srv/" + OddDirectory;
        var options = new ShardRuntimeOptions().AddListener("upper", l =>
        {
            l.EndPoint = "127.0.0.1:7443";
            l.Tls = new ListenerTlsOptions
            {
                Certificate = $"{dir}/cert.pem", Key = $"{dir}/key.pem", KeyPasswordFile = $"{dir}/password",
                Alpn = ["upper", "http/1.1"], ClientCertificates = ClientCertificateMode.Required, ClientCa = $"{dir}/client-ca.pem",
                HandshakeTimeout = TimeSpan.FromMilliseconds(2500), Protocols = SslProtocols.Tls13,
            };
        });

        var tls = Assert.Single(ShardRuntimeSettings.Create(options.ToConfig()).Listeners).Tls;

        Assert.NotNull(tls);
        Assert.Equal($"{dir}/cert.pem", tls.Certificate);
        Assert.Equal($"{dir}/key.pem", tls.Key);
        Assert.Equal($"{dir}/password", tls.KeyPasswordFile);
        Assert.Equal(["upper", "http/1.1"], tls.Alpn);
        Assert.Equal(ClientCertificateMode.Required, tls.ClientCertificates);
        Assert.Equal($"{dir}/client-ca.pem", tls.ClientCa);
        Assert.Equal(TimeSpan.FromMilliseconds(2500), tls.HandshakeTimeout);
        Assert.Equal(SslProtocols.Tls13, tls.Protocols);
    }

    [Fact]
    public void Tls_options_left_unset_must_come_from_reference_conf_and_a_version_it_does_not_take_must_be_refused_naming_the_key()
    {
        var options = new ShardRuntimeOptions().AddListener("upper", l =>
        {
            l.EndPoint = "127.0.0.1:7443";
            l.Tls = new ListenerTlsOptions { Certificate = "/srv/cert.pem", Key = "/srv/key.pem" };
        });
        var tls = Assert.Single(ShardRuntimeSettings.Create(options.ToConfig()).Listeners).Tls;
        Assert.NotNull(tls);
        Assert.Equal(ReferenceConfig.Default.GetTimeSpan("shard-runtime.listener-defaults.tls.handshake-timeout"), tls.HandshakeTimeout);
        Assert.Equal(SslProtocols.Tls12 | SslProtocols.Tls13, tls.Protocols);
        Assert.Empty(tls.Alpn);

        options.Listeners["upper"].Tls!.Protocols = (SslProtocols)0x300; // TLS 1.1
        var refused = Assert.Throws<ShardRuntimeConfigurationException>(() => ShardRuntimeSettings.Create(options.ToConfig()));
        Assert.Contains("shard-runtime.listeners.upper.tls.protocols", refused.Message);
    }

    [Fact]
    public async Task A_listener_declared_in_code_with_tls_must_serve_a_TLS_client_from_files_whose_paths_need_quoting()
    {
        var (certificate, key) = _files.Server("upper");
        var odd = Directory.CreateDirectory(Path.Combine(_files.Directory, OddDirectory)).FullName;
        File.Move(certificate, Path.Combine(odd, "cert \"1\".pem"));
        File.Move(key, Path.Combine(odd, "key 1.pem"));
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddAkka("listener-tls-options", akka => akka.WithShardRuntime(o => o.AddListener("upper", l =>
        {
            l.EndPoint = "127.0.0.1:0";
            l.Handler = "echo";
            l.Shards = 2;
            l.Tls = new ListenerTlsOptions { Certificate = Path.Combine(odd, "cert \"1\".pem"), Key = Path.Combine(odd, "key 1.pem"), Alpn = ["upper"] };
        })));
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var coordinator = await host.Services.GetRequiredService<ActorRegistry>().GetAsync<CoordinatorProtocol.Marker>();
            var status = await coordinator.Ask<CoordinatorProtocol.NodeStatus>(CoordinatorProtocol.GetStatus.Instance, Clients.Timeout);
            var endPoint = IPEndPoint.Parse(Assert.Single(status.Listeners).EndPoint);

            using var client = await TlsClient.ConnectAsync(endPoint, _files, "upper");
            Assert.Equal("upper", client.NegotiatedAlpn);
            Assert.Equal("hello over tls", await client.EchoAsync("hello over tls"));
        }
        finally
        {
            await host.StopAsync();
        }
    }
}
