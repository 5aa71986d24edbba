using System.Security.Authentication;
using Akka.Configuration;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Tls;

namespace ShardRuntime.Actors.Tests.Settings;

/// <summary>A listener's <c>tls</c> block: read over listener-defaults, equal when unchanged, and every refusal naming its full key.</summary>
public sealed class ListenerTlsSettingsSpecs
{
    private const string Key = "shard-runtime.listeners.web.tls";

    private static ListenerSettings Read(string hocon) =>
        Assert.Single(ShardRuntimeSettings.Create(ConfigurationFactory.ParseString(hocon)).Listeners);

    private static ShardRuntimeConfigurationException Fails(string hocon) =>
        Assert.Throws<ShardRuntimeConfigurationException>(() => Read(hocon));

    private static string Web(string tls, string extra = "") =>
        $$"""shard-runtime.listeners.web { endpoint = "127.0.0.1:0", handler = http-ok, {{extra}} tls { {{tls}} } }""";

    [Fact]
    public void A_listener_without_certificate_and_key_must_have_no_tls()
    {
        Assert.Null(Read("""shard-runtime.listeners.web { endpoint = "127.0.0.1:0" }""").Tls);
        Assert.Null(Read(Web("alpn = [h2]")).Tls);
    }

    [Fact]
    public void A_tls_block_must_be_read_with_the_defaults_of_reference_conf()
    {
        var tls = Read(Web("""certificate = "/etc/tls/web.pem", key = "/etc/tls/web-key.pem" """)).Tls!;

        Assert.Equal(("/etc/tls/web.pem", "/etc/tls/web-key.pem"), (tls.Certificate, tls.Key));
        Assert.Null(tls.KeyPasswordFile);
        Assert.Empty(tls.Alpn);
        Assert.Equal(ClientCertificateMode.None, tls.ClientCertificates);
        Assert.Null(tls.ClientCa);
        Assert.Equal(TimeSpan.FromSeconds(10), tls.HandshakeTimeout);
        Assert.Equal(SslProtocols.Tls12 | SslProtocols.Tls13, tls.Protocols);
        Assert.Equal((TimeSpan.FromSeconds(10), 5), (tls.FailureLogInterval, tls.FailureLogBurst));
        Assert.Equal(Key, tls.ConfigPath);
    }

    [Fact]
    public void Every_tls_setting_must_be_read_and_relative_paths_made_absolute()
    {
        var tls = Read(Web("""
            certificate = "web.pem", key = "/k.pem", key-password-file = "/pw", alpn = [h2, http/1.1],
            client-certificates = required, client-ca = "/ca.pem", handshake-timeout = 3s, protocols = [TLSv1.3],
            failure-log-interval = 1m, failure-log-burst = 0
            """)).Tls!;

        Assert.Equal(Path.GetFullPath("web.pem"), tls.Certificate);
        Assert.Equal("/pw", tls.KeyPasswordFile);
        Assert.Equal(["h2", "http/1.1"], tls.Alpn);
        Assert.Equal((ClientCertificateMode.Required, "/ca.pem"), (tls.ClientCertificates, tls.ClientCa));
        Assert.Equal(TimeSpan.FromSeconds(3), tls.HandshakeTimeout);
        Assert.Equal(SslProtocols.Tls13, tls.Protocols);
        Assert.Equal((TimeSpan.FromMinutes(1), 0), (tls.FailureLogInterval, tls.FailureLogBurst));
    }

    [Fact]
    public void Listener_defaults_must_give_tls_to_every_listener_and_the_same_block_read_twice_must_be_equal()
    {
        const string hocon = """
            shard-runtime.listener-defaults.tls { certificate = "/c.pem", key = "/k.pem", alpn = [h2, http/1.1] }
            shard-runtime.listeners.web { endpoint = "127.0.0.1:0" }
            """;

        var once = Read(hocon);
        var again = Read(hocon);

        Assert.Equal("/c.pem", once.Tls!.Certificate);
        Assert.Equal(once, again); // a reload of an unchanged file keeps the listener (and re-reads its files)
        Assert.NotEqual(once, Read(hocon.Replace("http/1.1", "h3")));
    }

    [Theory]
    [InlineData("""certificate = "/c.pem" """, "key", "is empty while shard-runtime.listeners.web.tls.certificate is set")]
    [InlineData("""key = "/k.pem" """, "certificate", "is empty while shard-runtime.listeners.web.tls.key is set")]
    [InlineData("""certificate = "/c.pem", key = "/k.pem", client-certificates = required""", "client-ca", "is required when client-certificates = required")]
    [InlineData("""certificate = "/c.pem", key = "/k.pem", client-certificates = optional""", "client-ca", "is required when client-certificates = optional")]
    [InlineData("""certificate = "/c.pem", key = "/k.pem", client-ca = "/ca.pem" """, "client-ca", "client-certificates = none")]
    [InlineData("""certificate = "/c.pem", key = "/k.pem", client-certificates = sometimes""", "client-certificates", "expected one of none, optional, required")]
    [InlineData("""certificate = "/c.pem", key = "/k.pem", alpn = h2""", "alpn", "expected a list")]
    [InlineData("""certificate = "/c.pem", key = "/k.pem", alpn = [h2, h2]""", "alpn[1]", "listed twice")]
    [InlineData("""certificate = "/c.pem", key = "/k.pem", alpn = ["h 2"]""", "alpn[0]", "not an ALPN protocol id")]
    [InlineData("""certificate = "/c.pem", key = "/k.pem", protocols = [tls1.3, tls1.1]""", "protocols[1]", "expected tls1.2 or tls1.3")]
    [InlineData("""certificate = "/c.pem", key = "/k.pem", protocols = []""", "protocols", "at least one")]
    [InlineData("""certificate = "/c.pem", key = "/k.pem", handshake-timeout = soon""", "handshake-timeout", "a duration")]
    [InlineData("""certificate = "/c.pem", key = "/k.pem", failure-log-burst = -1""", "failure-log-burst", "between 0 and 10000")]
    public void A_bad_tls_setting_must_be_refused_naming_its_full_key(string tls, string key, string problem)
    {
        var e = Fails(Web(tls));

        Assert.Equal($"{Key}.{key}", e.Key);
        Assert.Contains(problem, e.Problem);
    }

    [Fact]
    public void Tls_on_a_udp_listener_must_be_refused()
    {
        var e = Fails(Web("""certificate = "/c.pem", key = "/k.pem" """, "protocol = udp, handler = udp-echo,"));

        Assert.Equal($"{Key}.certificate", e.Key);
        Assert.Contains("tcp listeners only", e.Problem);
    }

    [Fact]
    public void An_unknown_key_in_the_tls_block_must_be_refused_with_the_nearest_one()
    {
        var e = Fails(Web("""certificate = "/c.pem", key = "/k.pem", handshake-timout = 5s"""));

        Assert.Equal($"{Key}.handshake-timout", e.Key);
        Assert.Contains("handshake-timeout", e.Problem);
    }
}
