using System.Buffers.Binary;
using System.Net;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using ShardRuntime.Runtime.Upgrade;
using ShardRuntime.Runtime.Sockets;

namespace ShardRuntime.Runtime.Tests.Upgrade;

/// <summary>
/// Properties of the upgrade protocol's frame reader (<see cref="UpgradeFrame.TryDecode"/>, what
/// <see cref="UpgradeConnection"/> reads with): valid frames survive encoding and decoding, a frame cut short is
/// "need more", and no input makes it throw anything but a <see cref="UpgradeException"/> with a reason.
/// </summary>
public sealed class UpgradeFrameProperties
{
    private static readonly Gen<SocketLabel> Labels =
        from listener in Gen.Elements("http", "api", "dns-ü", "a b")
        from v6 in ArbMap.Default.GeneratorFor<bool>()
        from address in ArbMap.Default.GeneratorFor<uint>()
        from port in Gen.Choose(0, IPEndPoint.MaxPort)
        from protocol in Gen.Elements(TransportProtocol.Tcp, TransportProtocol.Udp)
        from shard in Gen.Choose(0, 1000)
        from inode in ArbMap.Default.GeneratorFor<long>()
        from position in Gen.Choose(-1, 64)
        from pinned in ArbMap.Default.GeneratorFor<bool>()
        select new SocketLabel(
            listener,
            new IPEndPoint(v6 ? new IPAddress([.. BitConverter.GetBytes(address), .. new byte[12]]) : new IPAddress(address), port),
            protocol, shard, inode, position, pinned);

    private static readonly Gen<UpgradeFrame> Frames = Gen.OneOf(
        Gen.Choose(1, int.MaxValue).Select(UpgradeFrame.Hello),
        Gen.Elements("no reason", "peer uid 65534 is not the node's uid 0", "\"quoted\" \\ and \n").Select(UpgradeFrame.Refused),
        Gen.Elements("gave up", "ünïcode").Select(UpgradeFrame.Abort),
        from batch in Gen.Choose(1, 100)
        from labels in Gen.ListOf(Labels).Select(l => l.Take(32))
        select UpgradeFrame.ForBatch(batch, labels),
        from batch in Gen.Choose(1, 100)
        from count in Gen.Choose(0, 32)
        select UpgradeFrame.Ack(batch, count),
        from total in Gen.Choose(0, 1000)
        from generation in Gen.Choose(1, 1000)
        select UpgradeFrame.Done(total, generation),
        Gen.ListOf(ArbMap.Default.GeneratorFor<long>()).Select(UpgradeFrame.Ready),
        from hold in Gen.Choose(0, 60_000)
        select UpgradeFrame.Released(TimeSpan.FromMilliseconds(hold)));

    [Property(MaxTest = 300)]
    public Property Valid_frames_must_survive_encoding_and_decoding() => Prop.ForAll(Frames.ToArbitrary(), frame =>
    {
        var bytes = frame.Encode();
        Assert.True(UpgradeFrame.TryDecode(bytes, out var decoded, out var consumed));
        Assert.Equal(bytes.Length, consumed);
        Assert.Equal(bytes, decoded.Encode());
        Assert.Equal(frame.Labels?.Select(l => l.ToLabel()), decoded.Labels?.Select(l => l.ToLabel()));
    });

    [Property(MaxTest = 300)]
    public Property A_stream_of_frames_must_decode_frame_by_frame_and_a_frame_cut_short_must_need_more() =>
        Prop.ForAll(Gen.NonEmptyListOf(Frames).ToArbitrary(), Gen.Choose(0, 10_000).ToArbitrary(), (frames, cutSeed) =>
        {
            var encoded = frames.Select(f => f.Encode()).ToList();
            byte[] stream = [.. encoded.SelectMany(b => b)];
            var cut = cutSeed % stream.Length;
            ReadOnlySpan<byte> rest = stream.AsSpan(0, cut);
            var whole = 0;
            while (UpgradeFrame.TryDecode(rest, out var decoded, out var consumed))
            {
                Assert.Equal(encoded[whole], decoded.Encode());
                rest = rest[consumed..];
                whole++;
            }

            // Every frame that ends at or before the cut was read; the one the cut went through needs more bytes.
            var complete = 0;
            for (var end = encoded[0].Length; complete < encoded.Count && end <= cut; end += complete < encoded.Count ? encoded[complete].Length : 0)
            {
                complete++;
            }

            Assert.Equal(complete, whole);
        });

    [Property(MaxTest = 1000)]
    public Property Arbitrary_bytes_must_give_a_frame_need_more_or_a_refusal_with_a_reason() =>
        Prop.ForAll(Bytes.ToArbitrary(), bytes =>
        {
            try
            {
                if (UpgradeFrame.TryDecode(bytes, out var frame, out var consumed))
                {
                    Assert.InRange(consumed, UpgradeFrame.PrefixLength + 1, bytes.Length);
                    Assert.NotNull(frame);
                }
                else
                {
                    Assert.True(bytes.Length < UpgradeFrame.PrefixLength
                        || bytes.Length - UpgradeFrame.PrefixLength < BinaryPrimitives.ReadInt32BigEndian(bytes));
                }
            }
            catch (UpgradeException e)
            {
                Assert.False(string.IsNullOrWhiteSpace(e.Message));
            }
        });

    /// <summary>Random bytes, random JSON-ish text, and either behind a length prefix that fits them (or nearly).</summary>
    private static Gen<byte[]> Bytes =>
        from body in Gen.OneOf(
            ArbMap.Default.GeneratorFor<byte[]>(),
            Gen.ListOf(Gen.Elements("{", "}", "[", "]", ":", ",", "\"type\"", "\"Batch\"", "\"labels\"", "\"listener\"",
                "\"address\"", "\"port\"", "null", "1", "-1", "99999999999", "\"x\"", "\"::1\"", "true", "\"\\u0000\"", "\"\uFFFF\""))
                .Select(tokens => System.Text.Encoding.UTF8.GetBytes(string.Concat(tokens))))
        from prefixed in ArbMap.Default.GeneratorFor<bool>()
        from slack in Gen.Choose(-2, 2)
        select prefixed ? [.. Prefix(body.Length + slack), .. body] : body;

    private static byte[] Prefix(int length)
    {
        var prefix = new byte[UpgradeFrame.PrefixLength];
        BinaryPrimitives.WriteInt32BigEndian(prefix, length);
        return prefix;
    }
}
