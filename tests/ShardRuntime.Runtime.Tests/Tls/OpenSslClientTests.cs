using System.Diagnostics;
using System.Net.Security;
using ShardRuntime.Runtime.Tls;

namespace ShardRuntime.Runtime.Tests.Tls;

/// <summary>An independent TLS client (openssl s_client) against the listener's handshake: ALPN and the chain as it sees them.</summary>
public sealed class OpenSslClientTests : IDisposable
{
    private readonly TlsTestFiles _files = new();

    [SkippableFact]
    public async Task Openssl_s_client_must_negotiate_h2_and_verify_the_chain_against_the_server_ca()
    {
        Skip.If(!File.Exists("/usr/bin/openssl"), "openssl is not installed (apt-get install openssl)");
        var options = TlsTestFiles.Options(_files.Server("web", rsa: true, keyFormat: "pkcs1"), alpn: ["h2", "http/1.1"]);
        using var loop = new TlsLoopback(new TlsServer("web", TlsMaterial.Load(options, DateTime.UtcNow)));

        var accepted = loop.AcceptAsync();
        var start = new ProcessStartInfo("/usr/bin/openssl")
        {
            ArgumentList = { "s_client", "-connect", $"127.0.0.1:{loop.Port}", "-servername", "localhost", "-alpn", "h2",
                             "-CAfile", _files.ServerCa, "-verify_return_error", "-ign_eof" },
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var openssl = Process.Start(start)!;
        try
        {
            var server = await accepted;
            Assert.True(server.Succeeded, $"{server.Failure}: {server.Detail}");
            Assert.Equal(SslApplicationProtocol.Http2, server.Stream!.NegotiatedApplicationProtocol);
            await openssl.StandardInput.WriteAsync("from the client\n");
            await openssl.StandardInput.FlushAsync();
            openssl.StandardInput.Close(); // -ign_eof: s_client stays until the server closes
            Assert.Equal("from the client\n", await ReadAsync(server.Stream, "from the client\n".Length));
            await server.Stream.WriteAsync("from the server\n"u8.ToArray());
            await server.Stream.ShutdownAsync(); // close_notify, then the connection closes
            loop.Dispose();
            var output = await openssl.StandardOutput.ReadToEndAsync().WaitAsync(TlsLoopback.Bound);
            await openssl.WaitForExitAsync().WaitAsync(TlsLoopback.Bound);

            Assert.Contains("ALPN protocol: h2", output);
            Assert.Contains("Verify return code: 0 (ok)", output);
            Assert.Contains("from the server", output);
        }
        finally
        {
            if (!openssl.HasExited) openssl.Kill();
        }
    }

    private static async Task<string> ReadAsync(Stream stream, int length)
    {
        var bytes = new byte[length];
        await stream.ReadExactlyAsync(bytes).AsTask().WaitAsync(TlsLoopback.Bound);
        return System.Text.Encoding.ASCII.GetString(bytes);
    }

    public void Dispose() => _files.Dispose();
}
