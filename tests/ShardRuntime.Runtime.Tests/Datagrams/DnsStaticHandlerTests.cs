using System.Net;
using System.Net.Sockets;
using ShardRuntime.Runtime.Handlers;
using static ShardRuntime.Runtime.Tests.Datagrams.DnsMessages;

namespace ShardRuntime.Runtime.Tests.Datagrams;

/// <summary><c>dns-static</c> over a real UDP socket with a plain client (the dig tests ask with a real resolver's client).</summary>
public sealed class DnsStaticHandlerTests
{
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Dns_static_must_answer_queries_and_drop_responses_over_a_real_socket()
    {
        using var server = new DatagramTestServer(new DnsStaticHandlerFactory(DnsTestZone.Options()));
        using var client = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var response = Query(DnsTestZone.Localhost, A, id: 1);
        response[2] |= 0x80;

        await client.SendAsync(response, server.EndPoint);              // a response: no reply, or two servers could loop
        await client.SendAsync(Query(DnsTestZone.Localhost, A, id: 2), server.EndPoint);
        var reply = Read((await client.ReceiveAsync().WaitAsync(ReplyTimeout)).Buffer);

        Assert.Equal((2, 0, 2), (reply.Id, reply.Rcode, reply.Answers.Count));
        Assert.Equal(2, server.Datagrams);
        Assert.Equal(0, server.Failures);
    }
}
