using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Hosting;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Actors.Upgrade;
using ShardRuntime.Runtime.Sockets;
using ShardRuntime.Runtime.Upgrade;
using Xunit.Abstractions;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Tests.Upgrade;

/// <summary>
/// The successor's part of an upgrade (<see cref="Successor"/>) against a real predecessor's side
/// (<see cref="UpgradeServer"/> on a Unix domain socket, passing a real listening socket), with a probe as the
/// coordinator: every wait ends by its configured deadline with a clear answer.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SuccessorActorSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("sr-successor-");
    private readonly Socket _upgradeSocket = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    private readonly Socket _listening = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly List<IDisposable> _received = [];

    public SuccessorActorSpecs(ITestOutputHelper output) : base("akka.loglevel = INFO", output)
    {
        _upgradeSocket.Bind(new UnixDomainSocketEndPoint(UpgradePath));
        _upgradeSocket.Listen(4);
        _listening.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listening.Listen(16);
    }

    private string UpgradePath => Path.Combine(_directory.FullName, "upgrade.sock");

    private static UpgradeSettings Settings(TimeSpan step, TimeSpan timeout, TimeSpan letGoMargin, bool claimUpgradeSocket = false) =>
        new(claimUpgradeSocket, "unused.sock", 16, step, timeout, StabilityPeriod: TimeSpan.Zero, RollbackGrace: TimeSpan.FromSeconds(1),
            CheckInterval: TimeSpan.FromHours(1), LetGoMargin: letGoMargin);

    /// <summary>The predecessor's side: serves one successor the listening socket, as a node's upgrade actor does.</summary>
    private async Task<UpgradeOutcome> ServeAsync(TimeSpan hold, Action? onReady = null)
    {
        var peer = await _upgradeSocket.AcceptAsync();
        var server = new UpgradeServer(16, TimeSpan.FromSeconds(10)) { HoldAfterRelease = hold, OnReady = _ => onReady?.Invoke() };
        var label = new SocketLabel("http", (IPEndPoint)_listening.LocalEndPoint!, TransportProtocol.Tcp, 0, 0);
        return await server.ServeAsync(peer, [(_listening, label)], TimeSpan.FromSeconds(30), CancellationToken.None);
    }

    /// <summary>The successor's sockets, received before its actor system starts (as the host does).</summary>
    private async Task<UpgradeClient> ReceiveAsync(TimeSpan step)
    {
        var client = new UpgradeClient(step);
        foreach (var (socket, _) in await client.ReceiveAsync(UpgradePath, CancellationToken.None)) _received.Add(socket);
        return client;
    }

    /// <summary>The coordinator probe's part: says the successor adopted every socket it received.</summary>
    private static void Settle(Akka.TestKit.TestProbe coordinator)
    {
        coordinator.ExpectMsg<CoordinatorProtocol.GetAdoption>(Patience);
        coordinator.Reply(new CoordinatorProtocol.Adoption([1], []));
    }

    private object WaitForOutcome(IActorRef successor)
    {
        successor.Tell(Successor.WaitUntilServing.Instance, TestActor);
        return ExpectMsg<object>(Patience);
    }

    [Fact]
    public async Task A_predecessor_that_never_answers_Ready_must_end_the_wait_after_the_step_timeout_and_make_the_node_withdraw()
    {
        using var neverAnswer = new ManualResetEventSlim();
        var serving = Task.Run(() => ServeAsync(TimeSpan.Zero, onReady: () => neverAnswer.Wait(Patience)));
        var step = TimeSpan.FromSeconds(1);
        var client = await ReceiveAsync(step);
        var coordinator = CreateTestProbe();

        // The clock starts before the successor can send Ready (it waits for the coordinator's answer first), so what it
        // measures is never shorter than the successor's wait for the answer.
        var clock = Stopwatch.StartNew();
        var successor = Sys.ActorOf(Successor.Props(Settings(step, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(5)), client, coordinator.Ref, false));
        Settle(coordinator);
        successor.Tell(Successor.WaitUntilServing.Instance, TestActor);
        var failed = ExpectMsg<Successor.Failed>(Patience);

        // Akka's scheduler fires a timer on its wheel's tick (akka.scheduler.tick-duration, 10 ms here): up to a tick early
        // against a stopwatch (CI saw 0.9997 s for a 1 s step). Anything earlier than that is a wait cut short.
        var tick = Sys.Settings.Config.GetTimeSpan("akka.scheduler.tick-duration", TimeSpan.FromMilliseconds(10));
        Assert.True(clock.Elapsed >= step - tick, $"gave up after {clock.Elapsed}, before the step timeout");
        Assert.True(failed.Withdrawn);
        Assert.Contains("did not release the sockets and still runs", failed.Reason);
        coordinator.ExpectMsg<CoordinatorProtocol.Withdraw>(Patience);
        neverAnswer.Set();
        await serving.WaitAsync(Patience);
    }

    [Fact]
    public async Task A_coordinator_that_never_settles_must_end_the_upgrade_before_Ready_after_the_upgrade_timeout_and_the_predecessor_rolls_back()
    {
        var serving = Task.Run(() => ServeAsync(TimeSpan.Zero));
        var client = await ReceiveAsync(TimeSpan.FromSeconds(5));
        var coordinator = CreateTestProbe();

        var successor = Sys.ActorOf(Successor.Props(Settings(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5)), client, coordinator.Ref, false));
        coordinator.ExpectMsg<CoordinatorProtocol.GetAdoption>(Patience); // and never answers

        var failed = Assert.IsType<Successor.Failed>(WaitForOutcome(successor));
        Assert.False(failed.Withdrawn);
        Assert.Contains("shard-runtime.upgrade.timeout", failed.Reason);
        var outcome = await serving.WaitAsync(Patience);
        Assert.Equal(UpgradeResult.RolledBack, outcome.Result);
    }

    [Fact]
    public async Task A_predecessor_that_never_lets_go_must_not_hold_the_upgrade_incomplete_past_its_hold_and_the_let_go_margin()
    {
        var hold = TimeSpan.FromSeconds(1);
        var margin = TimeSpan.FromSeconds(1);
        var serving = Task.Run(() => ServeAsync(hold));
        var client = await ReceiveAsync(TimeSpan.FromSeconds(5));
        var coordinator = CreateTestProbe();

        var successor = Sys.ActorOf(Successor.Props(Settings(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30), margin), client, coordinator.Ref, false));
        Settle(coordinator);
        var serving2 = Assert.IsType<Successor.Serving>(WaitForOutcome(successor));
        Assert.False(serving2.PredecessorGone);
        var clock = Stopwatch.StartNew();
        using var link = (await serving.WaitAsync(Patience)).Link; // kept open: the predecessor never lets go

        coordinator.ExpectMsg<CoordinatorProtocol.PredecessorLetGo>(Patience);
        Assert.True(clock.Elapsed >= hold, $"completed after {clock.Elapsed}, before the predecessor's hold ended");
    }

    [Fact]
    public async Task A_successor_must_claim_the_socket_paths_through_the_registry_and_name_a_claim_that_got_no_answer()
    {
        var serving = Task.Run(() => ServeAsync(TimeSpan.Zero));
        var client = await ReceiveAsync(TimeSpan.FromSeconds(5));
        var coordinator = CreateTestProbe();
        var upgradeServer = CreateTestProbe();
        var controlServer = CreateTestProbe();
        var registry = ActorRegistry.For(Sys);
        registry.Register<Predecessor.Marker>(upgradeServer.Ref, overwrite: true);
        registry.Register<ShardRuntime.Actors.ControlSocket.Control.Marker>(controlServer.Ref, overwrite: true);

        var successor = Sys.ActorOf(Successor.Props(Settings(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(5), claimUpgradeSocket: true),
            client, coordinator.Ref, claimControlSocket: true));
        Settle(coordinator);
        upgradeServer.ExpectMsg<Predecessor.Claim>(Patience);
        upgradeServer.Reply(new Predecessor.Bound("upgrade.sock"));
        controlServer.ExpectMsg<ShardRuntime.Actors.ControlSocket.Control.Claim>(Patience); // and never answers

        var served = Assert.IsType<Successor.Serving>(WaitForOutcome(successor));
        Assert.Equal(1, served.Adopted);
        var unclaimed = Assert.Single(served.Unclaimed);
        Assert.Contains("control socket: no answer within 1 s (shard-runtime.upgrade.step-timeout)", unclaimed);
        coordinator.ExpectMsg<CoordinatorProtocol.PredecessorLetGo>(Patience);
        await serving.WaitAsync(Patience);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        foreach (var socket in _received) socket.Dispose();
        _listening.Dispose();
        _upgradeSocket.Dispose();
        try { _directory.Delete(recursive: true); }
        catch (IOException) { }
    }
}
