using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
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

            using var client = await TlsClient.ConnectAsync(IPEndPoint.Parse(upper.EndPoint), _files.ServerCaCertificate);
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

    /// <summary>A TLS client on loopback that trusts only <c>ca</c>, for a line of echo.</summary>
    private sealed class TlsClient : IDisposable
    {
        private readonly Socket _socket;
        private readonly SslStream _tls;

        private TlsClient(Socket socket, SslStream tls)
        {
            _socket = socket;
            _tls = tls;
        }

        public static async Task<TlsClient> ConnectAsync(IPEndPoint endPoint, X509Certificate2 ca)
        {
            var socket = await Clients.ConnectAsync(endPoint);
            var tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
            using var cts = new CancellationTokenSource(Clients.Timeout);
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && ChainsTo(new X509Certificate2(certificate), ca),
            }, cts.Token);
            return new TlsClient(socket, tls);
        }

        public async Task<string> EchoAsync(string text)
        {
            using var cts = new CancellationTokenSource(Clients.Timeout);
            var sent = Encoding.UTF8.GetBytes(text);
            await _tls.WriteAsync(sent, cts.Token);
            var received = new byte[sent.Length];
            await _tls.ReadExactlyAsync(received, cts.Token);
            return Encoding.UTF8.GetString(received);
        }

        private static bool ChainsTo(X509Certificate2 leaf, X509Certificate2 ca)
        {
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(ca);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(leaf);
        }

        public void Dispose()
        {
            _tls.Dispose();
            _socket.Dispose();
        }
    }
}
