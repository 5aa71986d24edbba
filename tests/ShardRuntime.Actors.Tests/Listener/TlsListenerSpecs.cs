using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using ShardRuntime.Actors.Handlers;
using ShardRuntime.Actors.Tests.Support;
using ShardRuntime.Runtime.Connections;
using ShardRuntime.Runtime.Tls;
using Xunit.Abstractions;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Tests.Listener;

/// <summary>
/// TLS listeners on a real node over real loopback connections: the built-in span handlers and an async one served
/// unchanged behind TLS, ALPN and the handshake's outcome seen by a handler, handshake failures counted and confined to
/// their own connection, and a reload's new certificate taken by new handshakes only.
/// </summary>
public sealed class TlsListenerSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    private readonly TlsTestFiles _files = new();

    private IActorRef Start(string handler, (string Certificate, string Key) files, string tlsExtra = "", HandlerCatalog? catalog = null) =>
        Specs.StartCoordinator(Sys, Specs.Settings(
            $$"""web { endpoint = "127.0.0.1:0", handler = {{handler}}, shards = 2, tls { certificate = "{{files.Certificate}}", key = "{{files.Key}}" {{tlsExtra}} } }"""),
            catalog ?? HandlerCatalog.WithBuiltIns());

    /// <summary>A TLS client that trusts the test's server CA and offers <paramref name="alpn"/>.</summary>
    private Task<(Socket Socket, SslStream Tls)> ConnectAsync(IPEndPoint endPoint, params string[] alpn) => ConnectAsync(endPoint, null, alpn);

    /// <summary>As <see cref="ConnectAsync(IPEndPoint, string[])"/>, presenting <paramref name="certificate"/> when asked.</summary>
    private async Task<(Socket Socket, SslStream Tls)> ConnectAsync(IPEndPoint endPoint, X509Certificate2? certificate, params string[] alpn)
    {
        var socket = await Clients.ConnectAsync(endPoint);
        var tls = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false);
        using var cts = new CancellationTokenSource(Clients.Timeout);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "web",
            ApplicationProtocols = alpn.Select(a => new SslApplicationProtocol(a)).ToList(),
            ClientCertificateContext = certificate is null ? null : SslStreamCertificateContext.Create(certificate, null, offline: true),
            RemoteCertificateValidationCallback = (_, presented, _, _) => _files.IsSignedByServerCa(presented),
        }, cts.Token);
        return (socket, tls);
    }

    private static async Task<string> HttpGetAsync(SslStream tls)
    {
        using var cts = new CancellationTokenSource(Clients.Timeout);
        await tls.WriteAsync("GET / HTTP/1.1\r\nHost: web\r\n\r\n"u8.ToArray(), cts.Token);
        var text = new StringBuilder();
        var buffer = new byte[4096];
        while (true)
        {
            var s = text.ToString();
            var end = s.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0)
            {
                var length = int.Parse(s[..end].Split("\r\n").First(h => h.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))[15..].Trim());
                if (s.Length >= end + 4 + length) return s;
            }
            var n = await tls.ReadAsync(buffer, cts.Token);
            if (n == 0) throw new IOException($"closed mid-response after '{s}'");
            text.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
    }

    [Fact]
    public async Task The_builtin_http_ok_must_serve_keepalive_requests_behind_tls_unchanged()
    {
        var coordinator = Start("http-ok", _files.Server("web"));
        var (socket, tls) = await ConnectAsync(Specs.EndPoint(coordinator, "web"));
        using (socket)
        await using (tls)
        {
            for (var i = 0; i < 5; i++)
            {
                var reply = await HttpGetAsync(tls);
                Assert.StartsWith("HTTP/1.1 200 OK\r\n", reply);
                Assert.EndsWith("\r\n\r\nOK", reply);
            }
        }
        var status = Specs.Listener(coordinator, "web");
        Assert.Equal("span/stream", status.Style);
        Assert.Equal(1, status.Tls!.Handshakes.Succeeded);
    }

    [Fact]
    public async Task An_async_handler_must_echo_100_kB_behind_tls()
    {
        var coordinator = Start("echo-async", _files.Server("web"));
        var (socket, tls) = await ConnectAsync(Specs.EndPoint(coordinator, "web"));
        using (socket)
        await using (tls)
        {
            using var cts = new CancellationTokenSource(Clients.Timeout);
            var payload = Encoding.ASCII.GetBytes(new string('x', 100_000));
            var write = tls.WriteAsync(payload, cts.Token).AsTask();
            var echoed = new byte[payload.Length];
            await tls.ReadExactlyAsync(echoed, cts.Token);
            await write;
            Assert.Equal(payload, echoed);
        }
    }

    [Fact]
    public async Task A_handler_must_see_the_negotiated_alpn_protocol_and_tls_version()
    {
        var catalog = HandlerCatalog.WithBuiltIns().Add(new TlsReportFactory());
        var coordinator = Start(TlsReportFactory.HandlerName, _files.Server("web"), ", alpn = [h2, \"http/1.1\"]", catalog);
        var (socket, tls) = await ConnectAsync(Specs.EndPoint(coordinator, "web"), "http/1.1");
        using (socket)
        await using (tls)
        {
            using var cts = new CancellationTokenSource(Clients.Timeout);
            var line = new StringBuilder();
            var one = new byte[1];
            while (await tls.ReadAsync(one, cts.Token) == 1 && one[0] != '\n') line.Append((char)one[0]);
            Assert.Equal($"http/1.1 {tls.SslProtocol}", line.ToString());
        }
    }

    [Fact]
    public async Task Failed_handshakes_must_be_counted_by_class_and_must_not_touch_an_open_tls_connection()
    {
        var coordinator = Start("http-ok", _files.Server("web"));
        var endPoint = Specs.EndPoint(coordinator, "web");
        var (socket, tls) = await ConnectAsync(endPoint);
        using (socket)
        await using (tls)
        {
            Assert.EndsWith("OK", await HttpGetAsync(tls));

            // Plain HTTP to the TLS port, three times: each ends its own connection without a reply.
            for (var i = 0; i < 3; i++)
            {
                using var plain = await Clients.ConnectAsync(endPoint);
                await Clients.SendAsync(plain, "GET / HTTP/1.1\r\nHost: web\r\n\r\n");
                try
                {
                    Assert.DoesNotContain("200 OK", await Clients.ReceiveToEndAsync(plain));
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
                {
                }
            }

            var handshakes = await Eventually.ValueAsync(() => Task.FromResult(Specs.Listener(coordinator, "web").Tls!.Handshakes),
                h => h.Failed >= 3, Clients.Timeout);
            Assert.Equal(3, handshakes.Failed);
            Assert.Equal(1, handshakes.Succeeded);
            // The TLS connection opened before goes on.
            Assert.EndsWith("OK", await HttpGetAsync(tls));
        }
    }

    [Fact]
    public async Task A_reload_must_give_new_handshakes_the_new_certificate_and_leave_an_open_connection_serving()
    {
        var served = _files.Server("web");
        var coordinator = Start("http-ok", served);
        var endPoint = Specs.EndPoint(coordinator, "web");
        var (oldSocket, oldTls) = await ConnectAsync(endPoint);
        using (oldSocket)
        await using (oldTls)
        {
            Assert.Equal("CN=web", new X509Certificate2(oldTls.RemoteCertificate!).Subject);

            var renewed = _files.Server("renewed");
            File.Copy(renewed.Certificate, served.Certificate, overwrite: true);
            File.Copy(renewed.Key, served.Key, overwrite: true);
            await coordinator.Ask<CoordinatorProtocol.Reloaded>(new CoordinatorProtocol.Reload("web"), Clients.Timeout);

            var (newSocket, newTls) = await ConnectAsync(endPoint);
            using (newSocket)
            await using (newTls)
            {
                Assert.Equal("CN=renewed", new X509Certificate2(newTls.RemoteCertificate!).Subject);
                Assert.EndsWith("OK", await HttpGetAsync(newTls));
            }
            // The connection made before the reload still answers (its generation drains at its next response).
            Assert.EndsWith("OK", await HttpGetAsync(oldTls));
        }
    }

    [Fact]
    public async Task A_span_handler_behind_tls_must_answer_from_its_shards_io_loop_once_the_handshake_is_done()
    {
        // The handshake resumes on the thread pool (it may build certificate chains); after it, a span handler's
        // requests are read, decrypted, answered and encrypted on the loop that saw the socket ready.
        var files = _files.Server("web");
        var coordinator = Specs.StartCoordinator(Sys, Specs.Settings(
            $$"""web { endpoint = "127.0.0.1:0", handler = where, shards = 2, tls { certificate = "{{files.Certificate}}", key = "{{files.Key}}" } }""",
            "io-loops = 2"), HandlerCatalog.WithBuiltIns().Add(new WhereFactory()));
        var (socket, tls) = await ConnectAsync(Specs.EndPoint(coordinator, "web"));
        using (socket)
        await using (tls)
        {
            // The task reads on the thread pool as long as each request is there before it reads; at its first wait it
            // resumes on its loop (bounded), and stays there.
            string? loop = null;
            for (var request = 1; request <= 200 && loop is null; request++)
            {
                var (shard, thread) = await WhereAsync(tls);
                if (thread == $"shardrt-io-{shard % 2}") loop = thread;
                else Assert.False(thread.StartsWith("shardrt-io-", StringComparison.Ordinal), $"a shard-{shard} connection ran on another shard's loop, '{thread}'");
            }
            Assert.True(loop is not null, "200 requests behind TLS, none answered on the connection's loop");
            for (var request = 1; request <= 5; request++)
                Assert.Equal(loop, (await WhereAsync(tls)).Thread);
        }
    }

    [Fact]
    public async Task A_span_handlers_handshake_must_run_on_its_loop_unless_client_certificates_are_judged()
    {
        // A handshake always waits for the client's Finished, and resumes from that wait where the connection says:
        // on its loop when the handshake is CPU work only, on the thread pool when a client chain is to be built. The
        // handler's OnConnected runs right after, on the same thread.
        var server = _files.Server("web");
        foreach (var (clients, expectLoop) in new[] { ("none", true), ("required", false) })
        {
            var ca = clients == "none" ? "" : $$""", client-ca = "{{_files.ClientCa}}" """;
            var coordinator = Specs.StartCoordinator(Sys, Specs.Settings(
                $$"""web { endpoint = "127.0.0.1:0", handler = where-connected, shards = 2, tls { certificate = "{{server.Certificate}}", key = "{{server.Key}}", client-certificates = {{clients}} {{ca}} } }""",
                "io-loops = 2"), HandlerCatalog.WithBuiltIns().Add(new WhereConnectedFactory()), name: $"clients-{clients}");
            for (var i = 0; i < 3; i++)
            {
                using var certificate = clients == "none" ? null : _files.Client("alice");
                var (socket, tls) = await ConnectAsync(Specs.EndPoint(coordinator, "web"), certificate);
                using (socket)
                await using (tls)
                {
                    var answer = await LineAsync(tls);
                    var colon = answer.IndexOf(':');
                    var (shard, thread) = (int.Parse(answer[..colon]), answer[(colon + 1)..]);
                    if (expectLoop) Assert.True(thread == $"shardrt-io-{shard % 2}", $"a CPU-only handshake on shard {shard} finished on '{thread}'");
                    else Assert.False(thread.StartsWith("shardrt-io-", StringComparison.Ordinal), $"a handshake judging a client certificate finished on loop thread '{thread}'");
                }
            }
        }
    }

    private static async Task<(int Shard, string Thread)> WhereAsync(SslStream tls)
    {
        await tls.WriteAsync("?"u8.ToArray());
        var answer = await LineAsync(tls);
        var colon = answer.IndexOf(':');
        return (int.Parse(answer[..colon]), answer[(colon + 1)..]);
    }

    private static async Task<string> LineAsync(SslStream tls)
    {
        using var cts = new CancellationTokenSource(Clients.Timeout);
        var line = new StringBuilder();
        var one = new byte[1];
        while (await tls.ReadAsync(one, cts.Token) == 1 && one[0] != '\n') line.Append((char)one[0]);
        return line.ToString();
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) _files.Dispose();
    }

    /// <summary>A span handler that writes "shard:thread-name\n" in OnConnected: where the handshake finished.</summary>
    private sealed class WhereConnectedFactory : IConnectionHandlerFactory
    {
        public string Name => "where-connected";
        public IConnectionHandler Create(IConnectionContext context) => new Handler();

        private sealed class Handler : IConnectionHandler
        {
            public void OnConnected(IConnectionContext context) =>
                context.Write(Encoding.ASCII.GetBytes($"{context.ShardId}:{Thread.CurrentThread.Name}\n"));

            public int OnReceived(IConnectionContext context, ReadOnlySpan<byte> data) => data.Length;
        }
    }

    /// <summary>A span handler that writes the connection's ALPN protocol and TLS version as its first line.</summary>
    private sealed class TlsReportFactory : IConnectionHandlerFactory
    {
        public const string HandlerName = "tls-report";
        public string Name => HandlerName;
        public IConnectionHandler Create(IConnectionContext context) => new Handler();

        private sealed class Handler : IConnectionHandler
        {
            public void OnConnected(IConnectionContext context)
            {
                var tls = context.GetFeature<ITlsConnectionFeature>();
                context.Write(Encoding.ASCII.GetBytes(tls is null ? "no tls\n" : $"{tls.ApplicationProtocol} {tls.Protocol}\n"));
            }

            public int OnReceived(IConnectionContext context, ReadOnlySpan<byte> data) => data.Length;
        }
    }
}
