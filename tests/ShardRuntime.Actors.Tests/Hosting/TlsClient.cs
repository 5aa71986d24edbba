using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using ShardRuntime.Tests.Shared;

namespace ShardRuntime.Actors.Tests.Hosting;

/// <summary>A TLS client on loopback that trusts only the test files' server CA and offers the given ALPN ids, for echoed text.</summary>
internal sealed class TlsClient : IDisposable
{
    private readonly Socket _socket;
    private readonly SslStream _tls;

    private TlsClient(Socket socket, SslStream tls)
    {
        _socket = socket;
        _tls = tls;
    }

    public static async Task<TlsClient> ConnectAsync(IPEndPoint endPoint, TlsTestFiles files, params string[] alpn)
    {
        var socket = await Clients.ConnectAsync(endPoint);
        var tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
        using var cts = new CancellationTokenSource(Clients.Timeout);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            ApplicationProtocols = alpn.Select(a => new SslApplicationProtocol(a)).ToList(),
            RemoteCertificateValidationCallback = (_, certificate, _, _) => files.IsSignedByServerCa(certificate),
        }, cts.Token);
        return new TlsClient(socket, tls);
    }

    /// <summary>The application protocol the handshake agreed on (empty: none).</summary>
    public string NegotiatedAlpn => _tls.NegotiatedApplicationProtocol.ToString();

    public async Task<string> EchoAsync(string text)
    {
        using var cts = new CancellationTokenSource(Clients.Timeout);
        var sent = Encoding.UTF8.GetBytes(text);
        await _tls.WriteAsync(sent, cts.Token);
        var received = new byte[sent.Length];
        await _tls.ReadExactlyAsync(received, cts.Token);
        return Encoding.UTF8.GetString(received);
    }

    public void Dispose()
    {
        _tls.Dispose();
        _socket.Dispose();
    }
}
