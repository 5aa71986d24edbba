using System.Net;
using ShardRuntime.Runtime.Datagrams;
using ShardRuntime.Runtime.Handlers;

namespace ShardRuntime.TestKit.Tests;

public sealed class FakeDatagramContextSpecs
{
    private static readonly IPEndPoint Peer = new(IPAddress.Loopback, 5353);

    /// <summary>Replies "n:payload" with a running count; throws on "boom" after queuing a reply; answers messages with SendTo.</summary>
    private sealed class Counting : IDatagramHandler
    {
        private int _count;
        public int Stopped;

        public void OnDatagram(IDatagramContext context, ReadOnlySpan<byte> datagram, SocketAddress peer)
        {
            context.Reply(System.Text.Encoding.UTF8.GetBytes($"{++_count}:{System.Text.Encoding.UTF8.GetString(datagram)}"));
            if (datagram.SequenceEqual("boom"u8)) throw new InvalidOperationException("boom");
        }

        public void OnMessage(IDatagramContext context, object message)
        {
            if (message is IPEndPoint to) context.SendTo(to, "pushed"u8);
            else context.Reply("no peer here"u8); // throws: there is no current peer
        }

        public void OnStopped(IDatagramContext context) => Stopped++;
    }

    [Fact]
    public void The_built_in_udp_echo_must_answer_the_peer_it_came_from()
    {
        var socket = new FakeDatagramContext().Start(new UdpEchoHandlerFactory());

        socket.Receive("ping", Peer);

        var reply = Assert.Single(socket.Sent);
        Assert.Equal(Peer, reply.Peer);
        Assert.Equal("ping", reply.Text);
    }

    [Fact]
    public void A_throwing_call_must_be_counted_its_sends_discarded_and_the_handler_serve_on()
    {
        var handler = new Counting();
        var socket = new FakeDatagramContext().Start(handler);

        socket.Receive("boom", Peer).Receive("next", Peer);

        Assert.Equal(1, socket.HandlerFailures);
        Assert.Equal(["2:next"], socket.TakeSent().Select(d => d.Text));
    }

    [Fact]
    public void A_message_has_no_peer_to_reply_to_but_may_send_to_one()
    {
        var socket = new FakeDatagramContext().Start(new Counting());

        socket.Tell(Peer);
        socket.Tell("reply without a peer");

        Assert.Equal("pushed", Assert.Single(socket.Sent).Text);
        Assert.Equal(1, socket.HandlerFailures);
        Assert.Contains("only possible inside OnDatagram", socket.LastHandlerFailure!.Message);
    }

    [Fact]
    public void Stop_must_call_OnStopped_once_and_deliver_nothing_after()
    {
        var handler = new Counting();
        var socket = new FakeDatagramContext().Start(handler);

        socket.Stop().Stop();

        Assert.Equal(1, handler.Stopped);
        Assert.Throws<InvalidOperationException>(() => socket.Receive("late", Peer));
    }
}
