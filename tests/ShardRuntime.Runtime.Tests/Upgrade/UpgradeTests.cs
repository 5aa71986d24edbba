using System.Net;
using System.Net.Sockets;
using ShardRuntime.Runtime.Upgrade;
using ShardRuntime.Runtime.Sockets;
using static ShardRuntime.Runtime.Tests.Sockets.SocketTestKit;

namespace ShardRuntime.Runtime.Tests.Upgrade;

public sealed class UpgradeTests
{
    [Fact]
    public async Task A_Ready_that_comes_after_the_old_process_gave_up_must_make_the_successor_withdraw()
    {
        using var kit = UpgradeTestKit.Create();
        var shards = BindShards(2);
        try
        {
            // The old process waits 300 ms for Ready; this successor is slower. The old one rolls back and serves on, so
            // the successor must learn that it may not serve (an Abort, or a live predecessor that did not release).
            var serving = kit.ServeOneAsync(UpgradeTestKit.Labelled(shards), readyTimeout: TimeSpan.FromMilliseconds(300));
            using var client = new UpgradeClient(UpgradeTestKit.StepTimeout);
            var received = await client.ReceiveAsync(kit.SocketPath, CancellationToken.None);
            var outcome = await serving.WaitAsync(UpgradeTestKit.TestTimeout);
            Assert.Equal(UpgradeResult.RolledBack, outcome.Result);
            Assert.Contains("No Ready within", outcome.Reason);

            var standDown = await Assert.ThrowsAsync<UpgradeAbandonedException>(() => client.SendReadyAsync());
            Assert.Contains("serves on", standDown.Message);
            foreach (var (socket, _) in received) socket.Dispose();
            Assert.All(shards, s => Assert.True(SocketOptionsNative.IsListening(s)));
        }
        finally
        {
            foreach (var shard in shards) shard.Dispose();
        }
    }

    [Fact]
    public async Task A_successor_whose_Ready_gets_no_answer_must_keep_a_late_Released_from_committing_the_old_process()
    {
        using var kit = UpgradeTestKit.Create();
        var shards = BindShards(1);
        try
        {
            // A hand-written old process that reads Ready and then stays silent until the successor gave up waiting (a
            // fixed stall could end before the successor's wait on a loaded machine, and the test would see a commit).
            using var timeout = new CancellationTokenSource(UpgradeTestKit.TestTimeout);
            using var gaveUp = new ManualResetEventSlim();
            var serving = Task.Run(async () =>
            {
                var connection = await kit.Listener.AcceptAsync(timeout.Token);
                var server = new UpgradeServer(UpgradeServer.DefaultBatchSize, UpgradeTestKit.StepTimeout)
                {
                    // Stalls between Ready and Released, as a loaded old process might.
                    OnReady = _ => gaveUp.Wait(UpgradeTestKit.TestTimeout),
                };
                return await server.ServeAsync(connection, UpgradeTestKit.Labelled(shards), UpgradeTestKit.StepTimeout, timeout.Token);
            });
            using var client = new UpgradeClient(TimeSpan.FromMilliseconds(500));
            var received = await client.ReceiveAsync(kit.SocketPath, CancellationToken.None);

            // The successor gives up waiting; the old process is alive, so it must withdraw, and the old process's
            // Released, written after that, must fail: it rolls back instead of letting go of the sockets too.
            try
            {
                await Assert.ThrowsAsync<UpgradeAbandonedException>(() => client.SendReadyAsync().WaitAsync(UpgradeTestKit.TestTimeout));
            }
            finally
            {
                gaveUp.Set();
            }
            var outcome = await serving.WaitAsync(UpgradeTestKit.TestTimeout);
            Assert.Equal(UpgradeResult.RolledBack, outcome.Result);
            foreach (var (socket, _) in received) socket.Dispose();
        }
        finally
        {
            foreach (var shard in shards) shard.Dispose();
        }
    }

    [Fact]
    public async Task Upgrade_must_pass_40_listeners_in_batches_of_16_as_the_same_kernel_sockets()
    {
        using var kit = UpgradeTestKit.Create();
        var shards = BindShards(40);
        var received = new List<(Socket Socket, SocketLabel Label)>();
        try
        {
            var serving = kit.ServeOneAsync(UpgradeTestKit.Labelled(shards), batchSize: 16);
            using (var client = new UpgradeClient(UpgradeTestKit.StepTimeout))
            {
                received.AddRange(await client.ReceiveAsync(kit.SocketPath, CancellationToken.None));
                await client.SendReadyAsync();
                var outcome = await serving.WaitAsync(UpgradeTestKit.TestTimeout);
                Assert.True(outcome.IsCompleted, outcome.Reason);
                Assert.Equal(40, outcome.SocketsPassed);
                Assert.Equal(ProcessIdentity.EffectiveUserId, outcome.Peer!.Value.UserId);
            }

            Assert.Equal(40, received.Count);
            for (int i = 0; i < shards.Count; i++)
            {
                var (socket, label) = received[i];
                Assert.Equal(i, label.ShardIndex);
                Assert.Equal("web", label.Listener);
                Assert.Equal(KernelSocketTable.GetInode(shards[i]), KernelSocketTable.GetInode(socket));
                Assert.Equal(label.Inode, KernelSocketTable.GetInode(socket));
                Assert.Equal(shards[i].LocalEndPoint, socket.LocalEndPoint);
                Assert.True(SocketOptionsNative.IsListening(socket));
            }

            // Each received socket accepts: the original copies are closed, so only the received ones are left.
            DisposeAll(shards);
            var endPoint = (IPEndPoint)received[0].Socket.LocalEndPoint!;
            Assert.Equal(40, KernelSocketTable.ListListening(endPoint.Port, TransportProtocol.Tcp).Count);
            foreach (var (socket, _) in received.Take(3))
            {
                using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await probe.ConnectAsync(endPoint);
                var echo = AcceptFromAnyAsync(received.Select(r => r.Socket).ToList());
                await UpgradeTestKit.EchoOneByteAsync(probe, 42);
                await echo;
            }
        }
        finally
        {
            DisposeAll(shards);
            DisposeAll(received.Select(r => r.Socket));
        }
    }

    [Fact]
    public async Task Upgrade_must_keep_every_queued_connection_of_a_passed_listener()
    {
        using var kit = UpgradeTestKit.Create();
        var shards = BindShards(1);
        var clients = new List<Socket>();
        var received = new List<(Socket Socket, SocketLabel Label)>();
        try
        {
            int port = PortOf(shards[0]);
            for (int i = 0; i < 50; i++)
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                clients.Add(client);
                await client.ConnectAsync(shards[0].LocalEndPoint!);
            }

            Assert.True(
                await Eventually.TrueAsync(
                    () => KernelSocketTable.ListListening(port, TransportProtocol.Tcp).Single().QueueLength == 50,
                    UpgradeTestKit.StepTimeout),
                "the 50 connections never all waited in the accept queue");

            var serving = kit.ServeOneAsync(UpgradeTestKit.Labelled(shards));
            using (var client = new UpgradeClient(UpgradeTestKit.StepTimeout))
            {
                received.AddRange(await client.ReceiveAsync(kit.SocketPath, CancellationToken.None));
                await client.SendReadyAsync();
                Assert.True((await serving.WaitAsync(UpgradeTestKit.TestTimeout)).IsCompleted);
            }

            // The sender closes its copy: the kernel socket, and its queue, live on in the received one.
            shards[0].Dispose();
            var listener = Assert.Single(received).Socket;
            for (int i = 0; i < clients.Count; i++)
            {
                var served = UpgradeTestKit.AcceptAndEchoAsync(listener);
                await UpgradeTestKit.EchoOneByteAsync(clients[i], (byte)i);
                await served;
            }

            Assert.Equal(0, KernelSocketTable.ListListening(port, TransportProtocol.Tcp).Single().QueueLength);
        }
        finally
        {
            DisposeAll(clients);
            DisposeAll(shards);
            DisposeAll(received.Select(r => r.Socket));
        }
    }

    [Fact]
    public async Task Upgrade_must_roll_back_and_leave_the_sockets_serving_when_the_successor_leaves_before_ready()
    {
        using var kit = UpgradeTestKit.Create();
        var shards = BindShards(3);
        try
        {
            var serving = kit.ServeOneAsync(UpgradeTestKit.Labelled(shards), batchSize: 2);
            using (var client = new UpgradeClient(UpgradeTestKit.StepTimeout))
            {
                var received = await client.ReceiveAsync(kit.SocketPath, CancellationToken.None);
                Assert.Equal(3, received.Count);

                // The successor dies: its copies close, and it never says Ready.
                DisposeAll(received.Select(r => r.Socket));
            }

            var outcome = await serving.WaitAsync(UpgradeTestKit.TestTimeout);
            Assert.Equal(UpgradeResult.RolledBack, outcome.Result);
            Assert.Equal(3, outcome.SocketsPassed);
            Assert.Contains("Ready", outcome.Reason);

            // The old process's sockets are untouched: all listening, all accepting.
            int port = PortOf(shards[0]);
            Assert.Equal(3, KernelSocketTable.ListListening(port, TransportProtocol.Tcp).Count);
            foreach (var shard in shards)
            {
                Assert.True(SocketOptionsNative.IsListening(shard));
            }

            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await probe.ConnectAsync(shards[0].LocalEndPoint!);
            var echo = AcceptFromAnyAsync(shards);
            await UpgradeTestKit.EchoOneByteAsync(probe, 7);
            await echo;
        }
        finally
        {
            DisposeAll(shards);
        }
    }

    [Fact]
    public async Task Upgrade_must_roll_back_when_the_successor_never_says_ready()
    {
        using var kit = UpgradeTestKit.Create();
        var shards = BindShards(1);
        try
        {
            var serving = kit.ServeOneAsync(UpgradeTestKit.Labelled(shards), readyTimeout: TimeSpan.FromMilliseconds(300));
            using var client = new UpgradeClient(UpgradeTestKit.StepTimeout);
            var received = await client.ReceiveAsync(kit.SocketPath, CancellationToken.None);
            DisposeAll(received.Select(r => r.Socket));

            var outcome = await serving.WaitAsync(UpgradeTestKit.TestTimeout);
            Assert.Equal(UpgradeResult.RolledBack, outcome.Result);
            Assert.Contains("No Ready within", outcome.Reason);
            Assert.True(SocketOptionsNative.IsListening(shards[0]));
        }
        finally
        {
            DisposeAll(shards);
        }
    }

    [Fact]
    public async Task Upgrade_must_refuse_to_pass_a_socket_whose_label_is_wrong()
    {
        using var kit = UpgradeTestKit.Create();
        var shards = BindShards(1);
        try
        {
            var wrong = new SocketLabel("web", new IPEndPoint(IPAddress.Loopback, 1), TransportProtocol.Udp, 0, 0);
            var serving = kit.ServeOneAsync([(shards[0], wrong)]);
            using var client = new UpgradeClient(UpgradeTestKit.StepTimeout);
            // The server refuses before it sends anything; the client sees either its refusal or, when the server has
            // already closed, a broken pipe on its Hello. The server's outcome below says why either way.
            await Assert.ThrowsAnyAsync<UpgradeException>(() => client.ReceiveAsync(kit.SocketPath, CancellationToken.None));

            var outcome = await serving.WaitAsync(UpgradeTestKit.TestTimeout);
            Assert.Equal(UpgradeResult.RolledBack, outcome.Result);
            Assert.Contains("bound to 127.0.0.1", outcome.Reason);
            Assert.Contains("the label says 127.0.0.1:1", outcome.Reason);
            Assert.Equal(0, outcome.SocketsPassed);
        }
        finally
        {
            DisposeAll(shards);
        }
    }

    private static async Task AcceptFromAnyAsync(IReadOnlyList<Socket> listeners)
    {
        // The kernel picks one socket of the group by hash; serve whichever got the connection.
        using var timeout = new CancellationTokenSource(UpgradeTestKit.StepTimeout);
        var accepts = listeners.Select(l => l.AcceptAsync(timeout.Token).AsTask()).ToList();
        var first = await Task.WhenAny(accepts);
        await timeout.CancelAsync();
        using var connection = await first;
        var buffer = new byte[1];
        Assert.Equal(1, await connection.ReceiveAsync(buffer, SocketFlags.None));
        await connection.SendAsync(buffer, SocketFlags.None);
        foreach (var other in accepts.Where(a => a != first))
        {
            try
            {
                (await other).Dispose();
            }
            catch (OperationCanceledException)
            {
            }
        }
    }
}
