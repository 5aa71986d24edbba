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
        Assert.Equal(TimeSpan.FromSeconds(60), http.RequestHeadTimeout); // nginx's client_header_timeout
        Assert.Equal(defaults.GetTimeSpan("drain-timeout"), http.DrainTimeout);
        Assert.Equal(defaults.GetByteSize("max-pending-write-bytes"), http.MaxPendingWriteBytes);
        Assert.Equal(Environment.ProcessorCount, http.EffectiveShards); // shards = 0: one per core
        // A library's actor system serves no control or upgrade socket unless asked (the host asks for both).
        Assert.False(settings.Control.Enabled);
        Assert.False(settings.Upgrade.Enabled);
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
    [InlineData("""shard-runtime.listeners.http { endpoint = "127.0.0.1:8080", request-head-timeout = 0s }""", "shard-runtime.listeners.http.request-head-timeout", "at least")]
    [InlineData("""shard-runtime.listeners.http { endpoint = "127.0.0.1:8080", shards = many }""", "shard-runtime.listeners.http.shards", "integer")]
    [InlineData("""shard-runtime.listeners.http { endpoint = "127.0.0.1:8080", shards = 1000 }""", "shard-runtime.listeners.http.shards", "between 0 and 256")]
    [InlineData("""shard-runtime.listeners.http { endpoint = "127.0.0.1:8080", backlog = 0 }""", "shard-runtime.listeners.http.backlog", "between")]
    [InlineData("""shard-runtime.listeners.http { endpoint = "127.0.0.1:8080", protocol = sctp }""", "shard-runtime.listeners.http.protocol", "tcp")]
    [InlineData("""shard-runtime.listeners.http { endpoint = "127.0.0.1:8080", max-pending-write-bytes = lots }""", "shard-runtime.listeners.http.max-pending-write-bytes", "size")]
    [InlineData("""shard-runtime.listeners.http { endpoint = "127.0.0.1:8080", receive-buffer-size = 64 KiB, max-receive-bytes = 4 KiB }""", "shard-runtime.listeners.http.max-receive-bytes", "receive-buffer-size")]
    [InlineData("""shard-runtime.listeners.http = 5""", "shard-runtime.listeners.http", "block")]
    [InlineData("""shard-runtime.listeners."bad name" { endpoint = "127.0.0.1:1" }""", "shard-runtime.listeners.bad name", "letters, digits")]
    [InlineData("shard-runtime.listeners { a { endpoint = \"127.0.0.1:8080\" }\n b { endpoint = \"127.0.0.1:8080\" } }", "shard-runtime.listeners.b.endpoint", "already used by listener 'a'")]
    [InlineData("""shard-runtime.control.enabled = maybe""", "shard-runtime.control.enabled", "on or off")]
    [InlineData("""shard-runtime.listeners.http { endpoint = "127.0.0.1:8080", first-turn-in-shard = maybe }""", "shard-runtime.listeners.http.first-turn-in-shard", "on or off")]
    [InlineData("""shard-runtime.io-loops = -1""", "shard-runtime.io-loops", "between 0 and 256")]
    [InlineData("""shard-runtime.io-loops = many""", "shard-runtime.io-loops", "integer")]
    [InlineData("""shard-runtime.actors-on-io-loops = maybe""", "shard-runtime.actors-on-io-loops", "on or off")]
    [InlineData("""shard-runtime.io-loop-hold-up-warning = soon""", "shard-runtime.io-loop-hold-up-warning", "duration")]
    [InlineData("""shard-runtime.io-loop-hold-up-warning = 1ms""", "shard-runtime.io-loop-hold-up-warning", "at least")]
    [InlineData("""shard-runtime.handler-load-timeout = soon""", "shard-runtime.handler-load-timeout", "duration")]
    [InlineData("""shard-runtime.handler-directories = ["handlers"]""", "shard-runtime.handler-directories", "'handlers' is not an absolute directory path")]
    [InlineData("""shard-runtime.shutdown.drain-timeout = 10m""", "shard-runtime.shutdown.drain-timeout", "must be shorter than")]
    [InlineData("""shard-runtime.bind-address = "node-2.example" """, "shard-runtime.bind-address", "expected an IP address")]
    [InlineData("""shard-runtime.bind-address = "127.0.0.1:8080" """, "shard-runtime.bind-address", "expected an IP address")]
    [InlineData("""shard-runtime.bind-address = "127.0.0.300" """, "shard-runtime.bind-address", "expected an IP address")]
    public void A_malformed_or_missing_setting_must_fail_naming_the_key(string hocon, string key, string problem)
    {
        var e = Fails(hocon);
        Assert.Equal(key, e.Key);
        Assert.Contains(key, e.Message);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void A_bind_address_must_replace_the_address_of_every_listener_and_keep_its_port()
    {
        var settings = Read("""
            shard-runtime {
              bind-address = "127.0.0.12"
              listeners {
                http { endpoint = "0.0.0.0:8080" }
                echo { endpoint = "127.0.0.1:7000" }
                any { endpoint = "[::1]:0" }
              }
            }
            """);

        Assert.Equal(IPAddress.Parse("127.0.0.12"), settings.BindAddress);
        Assert.Equal(
            [("any", "127.0.0.12:0"), ("echo", "127.0.0.12:7000"), ("http", "127.0.0.12:8080")],
            settings.Listeners.Select(l => (l.Name, l.EndPoint.ToString())).OrderBy(l => l.Name, StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("::1", "[::1]:9000")]
    [InlineData("[::1]", "[::1]:9000")]
    [InlineData(" 0.0.0.0 ", "0.0.0.0:9000")]
    public void A_bind_address_must_be_read_with_or_without_brackets_and_spaces(string bindAddress, string endPoint)
    {
        var listener = Assert.Single(Read($$"""
            shard-runtime { bind-address = "{{bindAddress}}", listeners.api { endpoint = "127.0.0.1:9000" } }
            """).Listeners);

        Assert.Equal(IPEndPoint.Parse(endPoint), listener.EndPoint);
    }

    [Fact]
    public void No_bind_address_must_leave_every_endpoint_as_written()
    {
        var settings = Read("""shard-runtime.listeners.http { endpoint = "127.0.0.1:8080" }""");

        Assert.Null(settings.BindAddress);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 8080), Assert.Single(settings.Listeners).EndPoint);
    }

    [Fact]
    public void Listeners_that_a_bind_address_puts_on_one_endpoint_must_fail_naming_the_second()
    {
        var e = Fails("""
            shard-runtime {
              bind-address = "127.0.0.1"
              listeners.a { endpoint = "127.0.0.2:8080" }
              listeners.b { endpoint = "127.0.0.3:8080" }
            }
            """);

        Assert.Equal("shard-runtime.listeners.b.endpoint", e.Key);
        Assert.Contains("already used by listener 'a'", e.Message);
    }

    [Fact]
    public void ReadListener_must_read_a_HOCON_block_over_the_nodes_listener_defaults_and_bind_address()
    {
        var settings = Read("""
            shard-runtime {
              bind-address = "127.0.0.1"
              listener-defaults { handler = http-ok, idle-timeout = 7s, max-connections = 12 }
            }
            """);

        var api = settings.ReadListener("api", ConfigurationFactory.ParseString("""endpoint = "0.0.0.0:9000", shards = 3, max-connections = 5"""), "cluster.listeners.api");

        Assert.Equal("api", api.Name);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 9000), api.EndPoint);
        Assert.Equal(3, api.Shards);
        Assert.Equal(5, api.MaxConnections); // the block wins over the defaults
        Assert.Equal("http-ok", api.Handler); // the node's defaults fill in the rest
        Assert.Equal(TimeSpan.FromSeconds(7), api.IdleTimeout);
        Assert.Equal(ReferenceConfig.Default.GetInt("shard-runtime.listener-defaults.backlog"), api.Backlog);
        Assert.Empty(settings.Listeners); // reading it does not add it to the node's own listeners
    }

    [Theory]
    [InlineData("""shards = lots, endpoint = "127.0.0.1:1" """, "cluster.listeners.api.shards", "integer")]
    [InlineData("""handler = echo""", "cluster.listeners.api.endpoint", "missing")]
    [InlineData("""endpoint = "127.0.0.1" """, "cluster.listeners.api.endpoint", "address and port")]
    public void ReadListener_must_fail_naming_the_key_under_the_given_path(string block, string key, string problem)
    {
        var settings = Read("");

        var e = Assert.Throws<ShardRuntimeConfigurationException>(() =>
            settings.ReadListener("api", ConfigurationFactory.ParseString(block), "cluster.listeners.api"));

        Assert.Equal(key, e.Key);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void The_control_sockets_cluster_answer_timeouts_must_be_derived_from_the_cluster_section()
    {
        var control = Read("""
            shard-runtime {
              control.request-timeout = 4s
              cluster { write-timeout = 3s, rolling-reload { step-timeout = 1m, timeout = 20m } }
            }
            """).Control;

        Assert.Equal(TimeSpan.FromSeconds(4), control.RequestTimeout);
        // A change is written to every node, then (on a timeout) to a majority: two writes, then the answer.
        Assert.Equal(TimeSpan.FromSeconds(3 + 3 + 4), control.ClusterChangeAnswerTimeout);
        // A rolling reload may take its whole timeout, then the answer.
        Assert.Equal(TimeSpan.FromMinutes(20) + TimeSpan.FromSeconds(4), control.ReloadAnswerTimeout);
    }

    [Fact]
    public void Control_settings_read_alone_must_wait_the_request_timeout_for_every_answer()
    {
        var control = ControlSettings.Create(
            ConfigurationFactory.ParseString("request-timeout = 6s").WithFallback(ReferenceConfig.Default.GetConfig("shard-runtime.control")),
            "shard-runtime.control");

        Assert.Equal(TimeSpan.FromSeconds(6), control.ClusterChangeAnswerTimeout);
        Assert.Equal(TimeSpan.FromSeconds(6), control.ReloadAnswerTimeout);
        Assert.Equal(TimeSpan.FromSeconds(6), control.UpgradeAnswerTimeout);
    }
}
