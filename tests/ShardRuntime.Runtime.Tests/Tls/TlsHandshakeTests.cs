using System.Diagnostics;
using System.Net.Security;
using System.Security.Authentication;
using ShardRuntime.Runtime.Tls;

namespace ShardRuntime.Runtime.Tests.Tls;

/// <summary>
/// The server handshake of a TLS listener over real loopback TCP connections: ALPN, client certificates, the
/// handshake-timeout, failures sorted by class and counted, and a swap of material at reload that new handshakes see
/// while an established connection keeps working.
/// </summary>
public sealed class TlsHandshakeTests : IDisposable
{
    private readonly TlsTestFiles _files = new();

    private TlsServer Serve(TlsOptions options) => new("web", TlsMaterial.Load(options, DateTime.UtcNow));

    [Fact]
    public async Task Alpn_h2_must_be_negotiated_and_bytes_must_flow_both_ways()
    {
        using var loop = new TlsLoopback(Serve(TlsTestFiles.Options(_files.Server("web"), alpn: ["h2", "http/1.1"])));

        var accepted = loop.AcceptAsync();
        var (client, error) = await loop.ClientAsync(_files, alpn: ["h2"]);
        var server = await accepted;

        Assert.Null(error);
        Assert.True(server.Succeeded, $"{server.Failure}: {server.Detail}");
        Assert.Equal(SslApplicationProtocol.Http2, server.Stream!.NegotiatedApplicationProtocol);
        Assert.Equal(SslApplicationProtocol.Http2, client!.NegotiatedApplicationProtocol);
        Assert.Equal("ping", await TlsLoopback.RoundTripAsync(client, server.Stream, "ping"));
        Assert.Equal("pong", await TlsLoopback.RoundTripAsync(server.Stream, client, "pong"));
        Assert.Equal(1, loop.Server.Counters.Snapshot().Succeeded);
    }

    [Fact]
    public async Task Required_client_certificates_must_refuse_a_client_without_one_and_accept_one_the_client_ca_signed()
    {
        var options = TlsTestFiles.Options(_files.Server("web"), clients: ClientCertificateMode.Required, clientCa: _files.ClientCa);
        using var loop = new TlsLoopback(Serve(options));

        var bare = loop.AcceptAsync();
        await loop.ClientAsync(_files);
        var refused = await bare;
        Assert.False(refused.Succeeded);
        Assert.Equal(TlsHandshakeFailure.ClientCertificateMissing, refused.Failure);

        var foreign = loop.AcceptAsync();
        await loop.ClientAsync(_files, certificate: _files.Client("mallory", foreign: true));
        var rejected = await foreign;
        Assert.Equal(TlsHandshakeFailure.ClientCertificateRejected, rejected.Failure);
        Assert.Contains("CN=mallory", rejected.Detail);

        var signed = loop.AcceptAsync();
        var (client, error) = await loop.ClientAsync(_files, certificate: _files.Client("alice"));
        var accepted = await signed;
        Assert.Null(error);
        Assert.True(accepted.Succeeded, $"{accepted.Failure}: {accepted.Detail}");
        Assert.Equal("CN=alice", accepted.Stream!.RemoteCertificate!.Subject);
        Assert.Equal("hello", await TlsLoopback.RoundTripAsync(client!, accepted.Stream, "hello"));

        var counts = loop.Server.Counters.Snapshot();
        Assert.Equal((1, 1, 1), (counts.ClientCertificateMissing, counts.ClientCertificateRejected, counts.Succeeded));
    }

    [Fact]
    public async Task A_client_certificate_must_never_make_the_server_fetch_its_issuer_from_a_url_it_names()
    {
        // A certificate's authority-information-access URL is the client's to choose: fetching it during the handshake
        // would let any client make the node open connections (and hold a thread for the fetch's timeout).
        using var lure = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        lure.Start();
        var url = $"http://127.0.0.1:{((System.Net.IPEndPoint)lure.LocalEndpoint).Port}/issuer.cer";
        var options = TlsTestFiles.Options(_files.Server("web"), clients: ClientCertificateMode.Required, clientCa: _files.ClientCa);
        using var loop = new TlsLoopback(Serve(options));

        var handshake = loop.AcceptAsync();
        await loop.ClientAsync(_files, certificate: _files.Client("mallory", foreign: true, issuerUrl: url));
        var rejected = await handshake;
        Assert.Equal(TlsHandshakeFailure.ClientCertificateRejected, rejected.Failure);
        // The chain is built within the handshake: a fetch would have connected by now.
        Assert.False(lure.Pending(), $"the server fetched the client certificate's issuer from {url}");
    }

    [Fact]
    public async Task Optional_client_certificates_must_serve_a_client_without_one()
    {
        var options = TlsTestFiles.Options(_files.Server("web"), clients: ClientCertificateMode.Optional, clientCa: _files.ClientCa);
        using var loop = new TlsLoopback(Serve(options));

        var accepted = loop.AcceptAsync();
        var (client, error) = await loop.ClientAsync(_files);
        var server = await accepted;

        Assert.Null(error);
        Assert.True(server.Succeeded, $"{server.Failure}: {server.Detail}");
        Assert.Null(server.Stream!.RemoteCertificate);
        Assert.Equal("x", await TlsLoopback.RoundTripAsync(client!, server.Stream, "x"));
    }

    [Fact]
    public async Task A_client_that_sends_nothing_must_be_a_timeout_within_the_handshake_timeout()
    {
        var timeout = TimeSpan.FromMilliseconds(500);
        using var loop = new TlsLoopback(Serve(TlsTestFiles.Options(_files.Server("web"), handshakeTimeout: timeout)));

        var clock = Stopwatch.StartNew();
        var accepted = loop.AcceptAsync();
        using var silent = await loop.ConnectAsync();
        var server = await accepted;

        Assert.Equal(TlsHandshakeFailure.Timeout, server.Failure);
        Assert.InRange(server.Elapsed, timeout - TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(10));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the handshake ended after {clock.Elapsed}");
        Assert.Equal(1, loop.Server.Counters.Snapshot().Timeouts);
        Assert.True(server.Log.Write); // the first failure of the interval is logged
    }

    [Fact]
    public async Task Plain_text_a_closed_connection_and_a_tls_version_mismatch_must_each_be_classified()
    {
        using var loop = new TlsLoopback(Serve(TlsTestFiles.Options(_files.Server("web"), protocols: SslProtocols.Tls13)));

        var plain = loop.AcceptAsync();
        using (var http = await loop.ConnectAsync())
            await http.GetStream().WriteAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());
        Assert.Equal(TlsHandshakeFailure.Protocol, (await plain).Failure);

        var closed = loop.AcceptAsync();
        (await loop.ConnectAsync()).Close();
        Assert.Equal(TlsHandshakeFailure.PeerClosed, (await closed).Failure);

        var old = loop.AcceptAsync();
        var (_, error) = await loop.ClientAsync(_files, protocols: SslProtocols.Tls12);
        Assert.NotNull(error);
        Assert.Equal(TlsHandshakeFailure.Protocol, (await old).Failure);

        var counts = loop.Server.Counters.Snapshot();
        Assert.Equal((2, 1, 0), (counts.Protocol, counts.PeerClosed, counts.Succeeded));
    }

    [Fact]
    public async Task A_swap_must_reach_new_handshakes_while_a_connection_established_before_keeps_working()
    {
        using var loop = new TlsLoopback(Serve(TlsTestFiles.Options(_files.Server("first"))));
        string? firstSeen = null, secondSeen = null;

        var before = loop.AcceptAsync();
        var (oldClient, _) = await loop.ClientAsync(_files, seen: c => firstSeen = c.Subject);
        var oldServer = await before;
        Assert.True(oldServer.Succeeded, $"{oldServer.Failure}: {oldServer.Detail}");

        var replaced = loop.Server.Swap(TlsMaterial.Load(TlsTestFiles.Options(_files.Server("second")), DateTime.UtcNow));
        Assert.Equal("CN=first", replaced.Certificate.Subject);

        var after = loop.AcceptAsync();
        var (newClient, error) = await loop.ClientAsync(_files, seen: c => secondSeen = c.Subject);
        var newServer = await after;

        Assert.Null(error);
        Assert.Equal(("CN=first", "CN=second"), (firstSeen, secondSeen));
        Assert.Equal("still here", await TlsLoopback.RoundTripAsync(oldClient!, oldServer.Stream!, "still here"));
        Assert.Equal("and back", await TlsLoopback.RoundTripAsync(oldServer.Stream!, oldClient!, "and back"));
        Assert.Equal("new", await TlsLoopback.RoundTripAsync(newClient!, newServer.Stream!, "new"));
    }

    [Fact]
    public async Task Cancelling_a_handshake_must_be_counted_as_cancelled_and_never_logged()
    {
        using var loop = new TlsLoopback(Serve(TlsTestFiles.Options(_files.Server("web"))));
        using var client = await loop.ConnectAsync();
        using var cancel = new CancellationTokenSource();
        var accepted = await loop.AcceptRawAsync();

        var handshake = loop.Server.HandshakeAsync(accepted, cancel.Token);
        await cancel.CancelAsync();
        var result = await handshake.WaitAsync(TlsLoopback.Bound);

        Assert.Equal(TlsHandshakeFailure.Cancelled, result.Failure);
        Assert.False(result.Log.Write);
        Assert.Equal(1, loop.Server.Counters.Snapshot().Cancelled);
    }

    [Fact]
    public async Task WrapAsync_must_return_the_authenticated_stream_or_throw_the_classified_failure()
    {
        var options = TlsTestFiles.Options(_files.Server("web"), clients: ClientCertificateMode.Required, clientCa: _files.ClientCa);
        using var loop = new TlsLoopback(Serve(options));

        var bare = loop.AcceptRawAsync();
        var client = loop.ClientAsync(_files);
        var refused = await Assert.ThrowsAsync<TlsHandshakeException>(async () => await loop.Server.WrapAsync(await bare, CancellationToken.None));
        await client;
        Assert.Equal(("web", TlsHandshakeFailure.ClientCertificateMissing), (refused.Listener, refused.Result.Failure));
        Assert.True(refused.Result.Log.Write);

        var signed = loop.AcceptRawAsync();
        var alice = loop.ClientAsync(_files, certificate: _files.Client("alice"));
        var stream = await loop.Server.WrapAsync(await signed, CancellationToken.None);
        var (aliceStream, _) = await alice;
        Assert.Equal("hi", await TlsLoopback.RoundTripAsync(aliceStream!, stream, "hi"));
        await stream.DisposeAsync();
    }

    public void Dispose() => _files.Dispose();
}
