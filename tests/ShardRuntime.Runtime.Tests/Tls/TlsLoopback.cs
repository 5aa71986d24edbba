using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using ShardRuntime.Runtime.Tls;

namespace ShardRuntime.Runtime.Tests.Tls;

/// <summary>
/// A real loopback TCP listener (127.0.0.1, port 0) whose accepted connections shake hands through a
/// <see cref="TlsServer"/>, and SslStream clients to talk to it. Every wait is bounded.
/// </summary>
internal sealed class TlsLoopback : IDisposable
{
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly List<IDisposable> _owned = [];

    public TlsLoopback(TlsServer server)
    {
        Server = server;
        _listener.Start();
    }

    public TlsServer Server { get; }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Accepts the next connection and runs the server handshake on it (the accepted socket is this object's).</summary>
    public async Task<TlsHandshakeResult> AcceptAsync()
    {
        var stream = await AcceptRawAsync();
        var result = await Server.HandshakeAsync(stream, CancellationToken.None).WaitAsync(Bound);
        if (result.Stream is { } ssl) lock (_owned) _owned.Add(ssl);
        return result;
    }

    /// <summary>Accepts the next connection, as a stream this object owns, without a handshake.</summary>
    public async Task<NetworkStream> AcceptRawAsync()
    {
        var socket = await _listener.AcceptSocketAsync().WaitAsync(Bound);
        var stream = new NetworkStream(socket, ownsSocket: true);
        lock (_owned) _owned.Add(stream);
        return stream;
    }

    /// <summary>A raw TCP client connected to the listener.</summary>
    public async Task<TcpClient> ConnectAsync()
    {
        var client = new TcpClient();
        lock (_owned) _owned.Add(client);
        await client.ConnectAsync(IPAddress.Loopback, Port).WaitAsync(Bound);
        return client;
    }

    /// <summary>
    /// A TLS client's handshake (trusting the server CA alone) and its stream, or the exception it ended with.
    /// <paramref name="seen"/> receives the certificate the server presented.
    /// </summary>
    public async Task<(SslStream? Stream, Exception? Error)> ClientAsync(TlsTestFiles files, string[]? alpn = null,
        X509Certificate2? certificate = null, SslProtocols protocols = SslProtocols.None, Action<X509Certificate2>? seen = null)
    {
        var tcp = await ConnectAsync();
        var ssl = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
        lock (_owned) _owned.Add(ssl);
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            EnabledSslProtocols = protocols,
            ApplicationProtocols = alpn?.Select(p => new SslApplicationProtocol(p)).ToList(),
            // Offline: the client sends its certificate as it is, never fetching an issuer its certificate names.
            ClientCertificateContext = certificate is null ? null : SslStreamCertificateContext.Create(certificate, null, offline: true),
            RemoteCertificateValidationCallback = (_, presented, _, _) =>
            {
                if (presented is null) return false;
                var leaf = new X509Certificate2(presented);
                seen?.Invoke(leaf);
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(files.ServerCaCertificate);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(leaf);
            },
        };
        try
        {
            await ssl.AuthenticateAsClientAsync(options).WaitAsync(Bound);
            return (ssl, null);
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            return (null, e);
        }
    }

    /// <summary>Sends <paramref name="text"/> one way and reads it whole on the other side.</summary>
    public static async Task<string> RoundTripAsync(Stream from, Stream to, string text)
    {
        var bytes = System.Text.Encoding.ASCII.GetBytes(text);
        await from.WriteAsync(bytes).AsTask().WaitAsync(Bound);
        await from.FlushAsync().WaitAsync(Bound);
        var received = new byte[bytes.Length];
        await to.ReadExactlyAsync(received).AsTask().WaitAsync(Bound);
        return System.Text.Encoding.ASCII.GetString(received);
    }

    public void Dispose()
    {
        _listener.Stop();
        lock (_owned)
        {
            foreach (var owned in _owned) owned.Dispose();
        }
    }
}
