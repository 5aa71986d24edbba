using ShardRuntime.Runtime.Handlers;

namespace ShardRuntime.Runtime.Tests.Datagrams;

public sealed class BuiltInDatagramHandlersTests
{
    [Fact]
    public void Built_in_datagram_handlers_must_list_dns_static_and_udp_echo()
    {
        Assert.Equal(["dns-static", "udp-echo"], BuiltInDatagramHandlers.Names);
    }

    [Fact]
    public void Each_built_in_datagram_handler_must_be_created_by_its_name()
    {
        Assert.IsType<UdpEchoHandlerFactory>(BuiltInDatagramHandlers.Create("udp-echo"));
        var dns = Assert.IsType<DnsStaticHandlerFactory>(BuiltInDatagramHandlers.Create("dns-static", DnsTestZone.Options()));
        Assert.Equal("dns-static", dns.Name);
    }

    [Fact]
    public void Dns_static_without_options_must_be_refused_saying_what_it_needs()
    {
        var error = Assert.Throws<ArgumentException>(() => BuiltInDatagramHandlers.Create("dns-static"));

        Assert.Contains("needs its options (ttl, max-udp-payload, records)", error.Message);
    }

    [Theory]
    [InlineData("echo")]
    [InlineData("UDP-ECHO")]
    public void An_unknown_name_must_be_refused_listing_the_known_ones(string name)
    {
        var error = Assert.Throws<ArgumentException>(() => BuiltInDatagramHandlers.Create(name));

        Assert.Contains($"'{name}'", error.Message);
        Assert.Contains("dns-static, udp-echo", error.Message);
    }
}
