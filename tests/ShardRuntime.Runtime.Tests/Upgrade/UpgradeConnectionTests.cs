using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using ShardRuntime.Runtime.Upgrade;
using ShardRuntime.Runtime.Sockets;
using static ShardRuntime.Runtime.Tests.Sockets.SocketTestKit;

namespace ShardRuntime.Runtime.Tests.Upgrade;

public sealed class UpgradeConnectionTests
{
    [Fact]
    public async Task Frame_reader_must_give_descriptors_to_their_frame_when_frames_are_split_and_glued()
    {
        using var kit = UpgradeTestKit.Create();
        var shards = BindShards(2);
        using var sender = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await sender.ConnectAsync(new UnixDomainSocketEndPoint(kit.SocketPath));
        using var reader = new UpgradeConnection(await kit.Listener.AcceptAsync());
        var copies = shards.Select(UnixFdPassing.Duplicate).ToList();
        var received = new List<int>();
        try
        {
            byte[] done = Frame("""{"type":"Done","total":0}""");
            var labels = UpgradeTestKit.Labelled(shards).Select(l => l.Item2 with { Inode = KernelSocketTable.GetInode(l.Item1) });
            byte[] batch = Frame(Encoding.UTF8.GetString(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(
                UpgradeFrame.ForBatch(1, labels), UpgradeJsonContext.Default.UpgradeFrame)));

            // The reader reads while the sender writes: a thousand one-byte messages would fill a Unix socket's send buffer.
            var reading = Task.Run(async () =>
            {
                var done = await reader.ReadAsync("Done", UpgradeTestKit.StepTimeout, CancellationToken.None);
                var batch = await reader.ReadAsync("a batch", UpgradeTestKit.StepTimeout, CancellationToken.None);
                return (done, batch);
            });

            // Half of a Done frame, then the rest of it glued to the batch's first 3 bytes with the descriptors, then
            // the batch one byte at a time.
            await sender.SendAsync(done.AsMemory(0, 3), SocketFlags.None);
            byte[] glued = [.. done[3..], .. batch[..3]];
            int sent = UnixFdPassing.Send(sender, glued, copies.ToArray());
            Assert.Equal(glued.Length, sent);
            for (int i = 3; i < batch.Length; i++)
            {
                await sender.SendAsync(batch.AsMemory(i, 1), SocketFlags.None);
            }

            var ((first, firstFds), (second, secondFds)) = await reading.WaitAsync(UpgradeTestKit.TestTimeout);
            Assert.Equal(UpgradeFrameType.Done, first.Type);
            Assert.Empty(firstFds);

            received.AddRange(secondFds);
            Assert.Equal(UpgradeFrameType.Batch, second.Type);
            Assert.Equal(2, secondFds.Count);
            for (int i = 0; i < 2; i++)
            {
                using var adopted = new Socket(new SafeSocketHandle(secondFds[i], ownsHandle: false));
                Assert.Equal(KernelSocketTable.GetInode(shards[i]), KernelSocketTable.GetInode(adopted));
            }
        }
        finally
        {
            UnixFdPassing.CloseAll(copies);
            UnixFdPassing.CloseAll(received);
            DisposeAll(shards);
        }
    }

    [Fact]
    public void Control_message_arithmetic_must_match_64_bit_linux()
    {
        Assert.Equal(16 + 4, UnixFdPassing.CmsgLen(4));
        Assert.Equal(16 + 8, UnixFdPassing.CmsgSpace(4));
        Assert.Equal(16 + 128, UnixFdPassing.CmsgSpace(32 * 4));
    }

    private static byte[] Frame(string json)
    {
        byte[] body = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[4 + body.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, body.Length);
        body.CopyTo(bytes, 4);
        return bytes;
    }
}
