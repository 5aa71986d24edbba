using Akka.Actor;
using ShardRuntime.Actors.Connections;

namespace ShardRuntime.Actors.Tests.Connection;

public sealed class ConnectionMailboxSpecs
{
    [Fact]
    public void The_queue_must_keep_order_across_growth_and_wrap_around()
    {
        var queue = new ConnectionMailbox.Queue();
        var next = 0;
        var expected = 0;
        // Interleave so that the ring wraps before it grows, and again after.
        for (var round = 0; round < 50; round++)
        {
            for (var i = 0; i < round % 7 + 1; i++) queue.Enqueue(ActorRefs.Nobody, new Envelope(next++, ActorRefs.NoSender));
            for (var i = 0; i < round % 5 + 1 && queue.TryDequeue(out var envelope); i++) Assert.Equal(expected++, envelope.Message);
        }
        Assert.Equal(next - expected, queue.Count);
        while (queue.TryDequeue(out var envelope)) Assert.Equal(expected++, envelope.Message);
        Assert.Equal(next, expected);
        Assert.False(queue.HasMessages);
        Assert.False(queue.TryDequeue(out _));
    }

    [Fact]
    public async Task The_queue_must_deliver_every_message_of_concurrent_senders_in_each_sender_s_order()
    {
        const int Senders = 4, PerSender = 20_000;
        var queue = new ConnectionMailbox.Queue();
        var senders = Enumerable.Range(0, Senders).Select(s => Task.Run(() =>
        {
            for (var i = 0; i < PerSender; i++) queue.Enqueue(ActorRefs.Nobody, new Envelope((s, i), ActorRefs.NoSender));
        })).ToArray();

        var last = Enumerable.Repeat(-1, Senders).ToArray();
        var received = 0;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (received < Senders * PerSender)
        {
            Assert.True(DateTime.UtcNow < deadline, $"only {received} of {Senders * PerSender} messages arrived");
            if (!queue.TryDequeue(out var envelope)) continue;
            var (sender, index) = ((int, int))envelope.Message;
            Assert.Equal(last[sender] + 1, index);
            last[sender] = index;
            received++;
        }
        await Task.WhenAll(senders);
        Assert.False(queue.HasMessages);
    }

    [Fact]
    public void Clean_up_must_hand_what_is_left_to_dead_letters()
    {
        var queue = new ConnectionMailbox.Queue();
        var deadLetters = new ConnectionMailbox.Queue();
        queue.Enqueue(ActorRefs.Nobody, new Envelope("a", ActorRefs.NoSender));
        queue.Enqueue(ActorRefs.Nobody, new Envelope("b", ActorRefs.NoSender));

        queue.CleanUp(ActorRefs.Nobody, deadLetters);

        Assert.Equal(0, queue.Count);
        Assert.True(deadLetters.TryDequeue(out var first));
        Assert.True(deadLetters.TryDequeue(out var second));
        Assert.Equal(("a", "b"), ((string)first.Message, (string)second.Message));
    }
}
