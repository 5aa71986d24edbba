using System.Net;
using Akka.Configuration;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Sockets;

namespace ShardRuntime.Actors.Tests.Settings;

public sealed class ShardRuntimeSettingsSpecs
{
    private static ShardRuntimeSettings Read(string hocon) => ShardRuntimeSettings.Create(ConfigurationFactory.ParseString(hocon));

    private static ShardRuntimeConfigurationException Fails(string hocon) =>
        Assert.Throws<ShardRuntimeConfigurationException>(() => Read(hocon));

    [Fact]
    public void A_listener_must_take_every_value_it_leaves_out_from_reference_conf()
    {
        var settings = Read("""shard-runtime.listeners.http { endpoint = "127.0.0.1:8080", handler = http-ok }""");
        var http = Assert.Single(settings.Listeners);
        var defaults = ReferenceConfig.Default.GetConfig("shard-runtime.listener-defaults");

        Assert.Equal("http", http.Name);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 8080), http.EndPoint);
        Assert.Equal("http-ok", http.Handler);
        Assert.Equal(TransportProtocol.Tcp, http.Protocol);
        Assert.Equal(defaults.GetInt("backlog"), http.Backlog);
        Assert.Equal(defaults.GetInt("max-connections"), http.MaxConnections);
        Assert.Equal(defaults.GetTimeSpan("idle-timeout"), http.IdleTimeout);
        Assert.Equal(defaults.GetTimeSpan("drain-timeout"), http.DrainTimeout);
        Assert.Equal(defaults.GetByteSize("max-pending-write-bytes"), http.MaxPendingWriteBytes);
        Assert.Equal(Environment.ProcessorCount, http.EffectiveShards); // shards = 0: one per core
        Assert.True(settings.Control.Enabled);
        Assert.False(string.IsNullOrEmpty(settings.Control.SocketPath));
    }

    [Fact]
    public void No_listeners_must_be_a_valid_configuration()
    {
        Assert.Empty(Read("").Listeners);
    }

    [Fact]
    public void Two_listeners_on_port_0_must_not_count_as_the_same_endpoint()
    {
        var settings = Read("shard-runtime.listeners { a { endpoint = \"127.0.0.1:0\" }\n b { endpoint = \"127.0.0.1:0\" } }");
        Assert.Equal(2, settings.Listeners.Count);
    }

    [Fact]
    public void IPv6_endpoints_must_be_accepted_in_brackets()
    {
        var listener = Assert.Single(Read("""shard-runtime.listeners.v6 { endpoint = "[::1]:9000" }""").Listeners);
        Assert.Equal(new IPEndPoint(IPAddress.IPv6Loopback, 9000), listener.EndPoint);
    }

    [Theory]
    [InlineData("""shard-runtime.listeners.http { handler = http-ok }""", "shard-runtime.listeners.http.endpoint", "missing")]
    [InlineData("""shard-runtime.listeners.http { endpoint = "127.0.0.1" }""", "shard-runtime.listeners.http.endpoint", "address and port")]
    [InlineData("""shard-runtime.listeners.http { endpoint = "::1" }""", "shard-runtime.listeners.http.endpoint", "address and port")]
    [InlineData("""shard-runtime.listeners.http { endpoint = "localhost:80" }""", "shard-runtime.listeners.http.endpoint", "address and port")]
    [InlineData("""shard-runtime.listeners.http { endpoint = "127.0.0.1:8080", idle-timeout = banana }""", "shard-runtime.listeners.http.idle-timeout", "duration")]
    [InlineData("""shard-runtime.listeners.http { endpoint = "127.0.0.1:8080", shards = many }""", "shard-runtime.listeners.http.shards", "integer")]
    [InlineData("""shard-runtime.listeners.http { endpoint = "127.0.0.1:8080", shards = 1000 }""", "shard-runtime.listeners.http.shards", "between 0 and 256")]
    [InlineData("""shard-runtime.listeners.http { endpoint = "127.0.0.1:8080", backlog = 0 }""", "shard-runtime.listeners.http.backlog", "between")]
    [InlineData("""shard-runtime.listeners.http { endpoint = "127.0.0.1:8080", protocol = sctp }""", "shard-runtime.listeners.http.protocol", "tcp")]
    [InlineData("""shard-runtime.listeners.http { endpoint = "127.0.0.1:8080", protocol = udp }""", "shard-runtime.listeners.http.protocol", "only tcp")]
    [InlineData("""shard-runtime.listeners.http { endpoint = "127.0.0.1:8080", max-pending-write-bytes = lots }""", "shard-runtime.listeners.http.max-pending-write-bytes", "size")]
    [InlineData("""shard-runtime.listeners.http { endpoint = "127.0.0.1:8080", receive-buffer-size = 64 KiB, max-receive-bytes = 4 KiB }""", "shard-runtime.listeners.http.max-receive-bytes", "receive-buffer-size")]
    [InlineData("""shard-runtime.listeners.http = 5""", "shard-runtime.listeners.http", "block")]
    [InlineData("""shard-runtime.listeners."bad name" { endpoint = "127.0.0.1:1" }""", "shard-runtime.listeners.bad name", "letters, digits")]
    [InlineData("shard-runtime.listeners { a { endpoint = \"127.0.0.1:8080\" }\n b { endpoint = \"127.0.0.1:8080\" } }", "shard-runtime.listeners.b.endpoint", "already used by listener 'a'")]
    [InlineData("""shard-runtime.control.enabled = maybe""", "shard-runtime.control.enabled", "on or off")]
    [InlineData("""shard-runtime.shutdown.drain-timeout = 10m""", "shard-runtime.shutdown.drain-timeout", "must be shorter than")]
    public void A_malformed_or_missing_setting_must_fail_naming_the_key(string hocon, string key, string problem)
    {
        var e = Fails(hocon);
        Assert.Equal(key, e.Key);
        Assert.Contains(key, e.Message);
        Assert.Contains(problem, e.Message);
    }
}
