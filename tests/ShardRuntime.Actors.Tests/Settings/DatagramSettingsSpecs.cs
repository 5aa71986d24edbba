using Akka.Configuration;
using ShardRuntime.Actors.Coordination.Reconciliation;
using ShardRuntime.Actors.Handlers;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Sockets;

namespace ShardRuntime.Actors.Tests.Settings;

/// <summary>UDP listeners' settings: protocol = udp, datagram handlers, their tunables, the dns-static block, and every refusal.</summary>
public sealed class DatagramSettingsSpecs
{
    private static ShardRuntimeSettings Read(string hocon) => ShardRuntimeSettings.Create(ConfigurationFactory.ParseString(hocon));

    private static ShardRuntimeConfigurationException Fails(string hocon) =>
        Assert.Throws<ShardRuntimeConfigurationException>(() => Read(hocon));

    [Fact]
    public void A_udp_listener_must_be_read_with_its_datagram_tunables()
    {
        var listener = Assert.Single(Read("""
            shard-runtime.listeners.e { endpoint = "127.0.0.1:0", protocol = udp, handler = udp-echo, datagrams-per-batch = 8, max-datagram-size = 9000, datagram-receive-buffer = 1 MiB }
            """).Listeners);

        Assert.Equal(TransportProtocol.Udp, listener.Protocol);
        Assert.True(listener.IsDatagram);
        Assert.Equal(8, listener.DatagramsPerBatch);
        Assert.Equal(9000, listener.MaxDatagramSize);
        Assert.Equal(1024 * 1024, listener.DatagramReceiveBuffer);
        Assert.Null(HandlerCatalog.WithBuiltIns().HandlerRefusal(listener));
    }

    [Fact]
    public void Dns_static_must_read_its_zone_over_the_defaults()
    {
        var listener = Assert.Single(Read("""
            shard-runtime.listeners.dns {
              endpoint = "127.0.0.1:0", protocol = udp, handler = dns-static
              dns-static { ttl = 60s, records { "a.test." { A = ["192.0.2.1"], AAAA = ["2001:db8::1"], TXT = ["hi"] } } }
            }
            """).Listeners);

        var options = listener.DnsStatic!.Options;
        Assert.Equal(TimeSpan.FromSeconds(60), options.Ttl);
        Assert.Equal(1232, options.MaxUdpPayload); // from reference.conf
        Assert.Equal(["a.test."], options.Records.Keys);
        Assert.Null(HandlerCatalog.WithBuiltIns().HandlerRefusal(listener));
    }

    [Theory]
    [InlineData("""datagrams-per-batch = 0""", "shard-runtime.listeners.u.datagrams-per-batch", "between 1 and 1024")]
    [InlineData("""datagrams-per-batch = 2000""", "shard-runtime.listeners.u.datagrams-per-batch", "between 1 and 1024")]
    [InlineData("""flow-id.length = 21""", "shard-runtime.listeners.u.flow-id.length", "between 0 and 20")]
    [InlineData("""flow-id { offset = -1, length = 4 }""", "shard-runtime.listeners.u.flow-id.offset", "between 0")]
    [InlineData("""datagram-receive-buffer = 1 KiB""", "shard-runtime.listeners.u.datagram-receive-buffer", "between 4096")]
    [InlineData("""max-datagram-size = 70000""", "shard-runtime.listeners.u.max-datagram-size", "65535")]
    [InlineData("""handler = echo, dns-static { ttl = 5s }""", "shard-runtime.listeners.u.dns-static", "belongs to the dns-static handler only")]
    [InlineData("""handler = dns-static, dns-static { records { "a.test." { A = ["1.2.3"] } } }""", "shard-runtime.listeners.u.dns-static.records.\"a.test.\".A[0]", "not an IPv4 address")]
    [InlineData("""handler = dns-static, dns-static { records { "a.test." { MX = ["x"] } } }""", "shard-runtime.listeners.u.dns-static.records.\"a.test.\".MX", "unknown record type")]
    [InlineData("""handler = dns-static, dns-static { records { "a.test." = 5 } }""", "shard-runtime.listeners.u.dns-static.records.\"a.test.\"", "block of record types")]
    [InlineData("""handler = dns-static, dns-static { max-udp-payload = 100 }""", "shard-runtime.listeners.u.dns-static.max-udp-payload", "between 512 and 65507")]
    [InlineData("""handler = dns-static, dns-static { zone = "z.test.", records { "other.test." { A = ["192.0.2.1"] } } }""", "shard-runtime.listeners.u.dns-static.records.\"other.test.\"", "is not in the zone")]
    public void A_bad_udp_setting_must_be_refused_naming_its_full_key(string settings, string key, string problem)
    {
        var e = Fails($$"""shard-runtime.listeners.u { endpoint = "127.0.0.1:0", protocol = udp, handler = udp-echo, {{settings}} }""");

        Assert.Equal(key, e.Key);
        Assert.Contains(problem, e.Problem, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Flow_id_must_be_read_for_a_udp_listener_and_refused_for_a_tcp_one()
    {
        var udp = Assert.Single(Read("""shard-runtime.listeners.q { endpoint = "127.0.0.1:0", protocol = udp, handler = udp-echo, flow-id { offset = 1, length = 8 } }""").Listeners);
        Assert.Equal(new FlowIdLocation(1, 8), udp.FlowId);
        Assert.Null(Assert.Single(Read("""shard-runtime.listeners.q { endpoint = "127.0.0.1:0", protocol = udp, handler = udp-echo }""").Listeners).FlowId);

        var e = Fails("""shard-runtime.listeners.t { endpoint = "127.0.0.1:0", flow-id.length = 8 }""");
        Assert.Equal("shard-runtime.listeners.t.flow-id.length", e.Key);
        Assert.Contains("udp listeners only", e.Problem);
    }

    [Theory]
    [InlineData("tcp", "udp-echo", "handler 'udp-echo' is a datagram handler (udp), but listener 'x' has protocol = tcp, which takes a connection handler (tcp)")]
    [InlineData("tcp", "dns-static", "handler 'dns-static' is a datagram handler (udp), but listener 'x' has protocol = tcp")]
    [InlineData("udp", "echo", "handler 'echo' is a connection handler (tcp), but listener 'x' has protocol = udp, which takes a datagram handler (udp) (known: dns-static, udp-echo)")]
    [InlineData("udp", "http-ok", "handler 'http-ok' is a connection handler (tcp), but listener 'x' has protocol = udp")]
    public void A_handler_of_the_other_kind_must_be_refused_at_start_and_on_reload_naming_both_kinds(string protocol, string handler, string reason)
    {
        var settings = Read($$"""shard-runtime.listeners.x { endpoint = "127.0.0.1:0", protocol = {{protocol}}, handler = {{handler}} }""");
        var catalog = HandlerCatalog.WithBuiltIns();

        // At start (and `shardruntime check`): the listener's handler key.
        var problem = Assert.Single(catalog.FindUnknown(settings.Listeners));
        Assert.Equal("shard-runtime.listeners.x.handler", problem.Key);
        Assert.StartsWith(reason, problem.Problem);
        // On reload: the reconciler refuses the whole change with the same reason.
        var decision = Reconciler.Plan(settings.Listeners, ObservedNode.Empty, catalog.HandlerRefusal);
        Assert.StartsWith($"listener 'x': {reason}", Assert.IsType<Decision.Refused>(decision).Reason);
    }

    [Theory]
    [InlineData("""shard-runtime.listeners.d { endpoint = "127.0.0.1:0", protocol = udp, handler = dns-static, dns-static { tll = 5s } }""", "shard-runtime.listeners.d.dns-static.tll", "shard-runtime.listeners.d.dns-static.ttl")]
    [InlineData("""shard-runtime.listeners.d { endpoint = "127.0.0.1:0", protocol = udp, datagram-per-batch = 5 }""", "shard-runtime.listeners.d.datagram-per-batch", "shard-runtime.listeners.d.datagrams-per-batch")]
    public void An_unknown_udp_key_must_be_found_with_the_nearest_valid_one(string hocon, string key, string suggestion)
    {
        var problem = Assert.Single(ConfigKeys.Find(ConfigurationFactory.ParseString(hocon)));

        Assert.Equal(key, problem.Key);
        Assert.Contains(suggestion, problem.Suggestions);
    }

    [Fact]
    public void Names_under_dns_static_records_must_not_be_taken_for_unknown_keys()
    {
        Assert.Empty(ConfigKeys.Find(ConfigurationFactory.ParseString("""
            shard-runtime.listeners.d {
              endpoint = "127.0.0.1:0", protocol = udp, handler = dns-static
              dns-static.records {
                "a.test." { A = ["192.0.2.1"] }
                "b.test." { TXT = ["x"] }
              }
            }
            """)));
    }

    [Fact]
    public void A_changed_zone_must_make_the_listener_differ_and_the_same_zone_must_not()
    {
        const string block = """shard-runtime.listeners.d { endpoint = "127.0.0.1:0", protocol = udp, handler = dns-static, dns-static.records { "a.test." { A = ["ADDRESS"] } } }""";
        var one = Read(block.Replace("ADDRESS", "192.0.2.1")).Listeners[0];

        Assert.Equal(one, Read(block.Replace("ADDRESS", "192.0.2.1")).Listeners[0]);
        Assert.NotEqual(one, Read(block.Replace("ADDRESS", "192.0.2.2")).Listeners[0]);
    }
}
