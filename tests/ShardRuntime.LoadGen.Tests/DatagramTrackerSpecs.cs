using ShardRuntime.LoadGen.Protocols;
using ShardRuntime.LoadGen.Run;

namespace ShardRuntime.LoadGen.Tests;

public sealed class DatagramTrackerSpecs
{
    private const long Timeout = 1000;

    private static readonly DnsCodec Dns = new("a.test.", DnsQueryType.A, 0, null);
    private static readonly DatagramEchoCodec Echo = new(32);

    private static DatagramMatch Reply(DatagramTracker tracker, DatagramCodec codec, long number, long sentAt, long now) =>
        Reply(tracker, codec, number, sentAt, now, out _);

    private static DatagramMatch Reply(DatagramTracker tracker, DatagramCodec codec, long number, long sentAt, long now, out long latency)
    {
        var reply = new byte[codec.MaxQueryBytes];
        codec.WriteQuery(reply, 0, number, sentAt);
        if (codec is DnsCodec)
            reply[2] |= 0x80; // QR: a response to the query
        return tracker.Settle(codec, reply, 0, now, out latency, out _);
    }

    [Fact]
    public void A_query_must_be_answered_once_and_then_duplicated()
    {
        var tracker = new DatagramTracker();
        long number = tracker.Begin(now: 100);

        Assert.Equal(DatagramMatch.Answered, Reply(tracker, Echo, number, 100, now: 130, out long latency));
        Assert.Equal(30, latency);
        Assert.Equal(DatagramMatch.Duplicate, Reply(tracker, Echo, number, 100, now: 140));
        Assert.Equal(0, tracker.Outstanding);
    }

    [Fact]
    public void A_query_must_be_lost_at_its_timeout_and_a_later_reply_be_late()
    {
        var tracker = new DatagramTracker();
        long first = tracker.Begin(now: 0);
        long second = tracker.Begin(now: 500);

        Assert.Equal(0, tracker.ExpireDue(now: Timeout - 1, Timeout));
        Assert.Equal(1, tracker.ExpireDue(now: Timeout, Timeout));
        Assert.Equal(1, tracker.Outstanding);
        Assert.Equal(DatagramMatch.Late, Reply(tracker, Echo, first, 0, now: 1200));
        Assert.Equal(DatagramMatch.Answered, Reply(tracker, Echo, second, 500, now: 1200));
        Assert.Equal(0, tracker.ExpireDue(now: 10_000, Timeout));
    }

    [Fact]
    public void A_reply_naming_no_query_sent_must_be_unmatched()
    {
        var tracker = new DatagramTracker();
        tracker.Begin(now: 0);

        Assert.Equal(DatagramMatch.Unmatched, Reply(tracker, Echo, 2, 0, now: 1));
        Assert.Equal(DatagramMatch.Unmatched, Reply(tracker, Dns, 7, 0, now: 1));
        Assert.Equal(DatagramMatch.Unmatched, tracker.Settle(Echo, new byte[3], 0, 1, out _, out _));
        Assert.Equal(1, tracker.Outstanding);
    }

    [Fact]
    public void A_wrapped_id_must_skip_a_query_still_outstanding_and_keep_both_apart()
    {
        var tracker = new DatagramTracker();
        long stuck = tracker.Begin(now: 0); // id 1, never answered within this test until the end
        for (int i = 2; i <= DatagramTracker.Slots; i++)
            Assert.Equal(DatagramMatch.Answered, Reply(tracker, Dns, tracker.Begin(now: i), i, now: i));

        // Number 65537 would take id 1, which the stuck query still holds: it is skipped.
        long next = tracker.Begin(now: 70_000);

        Assert.Equal(DatagramTracker.Slots + 2, next);
        Assert.Equal(2, tracker.Outstanding);
        Assert.Equal(DatagramMatch.Answered, Reply(tracker, Dns, stuck, 0, now: 70_001, out long latency));
        Assert.Equal(70_001, latency);
        Assert.Equal(DatagramMatch.Answered, Reply(tracker, Dns, next, 70_000, now: 70_002));
        // Id 2 was reused: a second reply with it is now a duplicate of the newer query.
        Assert.Equal(DatagramMatch.Duplicate, Reply(tracker, Dns, next, 70_000, now: 70_003));
    }

    [Fact]
    public void An_echo_reply_to_a_query_whose_slot_was_reused_must_be_late()
    {
        var tracker = new DatagramTracker();
        for (int i = 1; i <= DatagramTracker.Slots + 1; i++)
            Assert.Equal(DatagramMatch.Answered, Reply(tracker, Echo, tracker.Begin(now: i), i, now: i));

        Assert.Equal(DatagramMatch.Late, Reply(tracker, Echo, 1, 1, now: 80_000));
    }

    [Fact]
    public void Expiry_must_pass_answered_and_skipped_queries_and_stop_at_the_first_not_due()
    {
        var tracker = new DatagramTracker();
        long a = tracker.Begin(now: 0);
        tracker.Begin(now: 10);
        tracker.Begin(now: 2000);
        Reply(tracker, Echo, a, 0, now: 5);

        Assert.Equal(1, tracker.ExpireDue(now: 1500, Timeout));
        Assert.Equal(1, tracker.Outstanding);
        Assert.Equal(1, tracker.ExpireDue(now: 3000, Timeout));
        Assert.Equal(0, tracker.Outstanding);
    }

    [Fact]
    public void A_failed_send_must_end_its_query_and_make_a_reply_to_it_late()
    {
        var tracker = new DatagramTracker();
        long number = tracker.Begin(now: 0);

        Assert.True(tracker.Fail(number));
        Assert.False(tracker.Fail(number));
        Assert.Equal(0, tracker.Outstanding);
        Assert.Equal(DatagramMatch.Late, Reply(tracker, Echo, number, 0, now: 1));
        Assert.Equal(0, tracker.ExpireDue(now: 10_000, Timeout));
    }
}
