using System.Net.Sockets;
using Akka.Actor;
using ShardRuntime.Actors.ControlSocket;
using ShardRuntime.Actors.Coordination;
using ShardRuntime.Actors.Settings;
using Xunit.Abstractions;
using PredecessorProtocol = ShardRuntime.Actors.Upgrade.Predecessor;

namespace ShardRuntime.Actors.Tests.Control;

/// <summary>
/// The Unix-socket server behaviour that the control socket and the upgrade socket share
/// (<see cref="UnixSocketServerActor{TWaitUntilBound,TClaim}"/>), driven through a server of its own that hands each
/// peer to the test, on real Unix domain sockets.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class UnixSocketServerSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("shardruntime-server-");

    public UnixSocketServerSpecs(ITestOutputHelper output) : base("akka.loglevel = INFO", output)
    {
    }

    private string PathOf(string name) => Path.Combine(_directory.FullName, name);

    private IActorRef Start(string path, bool deferBind) =>
        Sys.ActorOf(Props.Create(() => new PeerForwardingServer(
            new UnixSocketServerSettings("Test", path, TimeSpan.FromSeconds(2), TimeSpan.FromHours(1), deferBind), TestActor)));

    private static async Task<Socket> ConnectAsync(string path)
    {
        var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await client.ConnectAsync(new UnixDomainSocketEndPoint(path)).WaitAsync(Patience);
        return client;
    }

    /// <summary>A socket listening at <paramref name="path"/> that is not the server's (a predecessor's, a successor's).</summary>
    private static Socket ListenElsewhere(string path)
    {
        var other = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        File.Delete(path);
        other.Bind(new UnixDomainSocketEndPoint(path));
        other.Listen(4);
        return other;
    }

    [Fact]
    public async Task A_server_must_answer_WaitUntilBound_once_bound_and_hand_every_peer_to_its_owner()
    {
        var path = PathOf("served.sock");
        var server = Start(path, deferBind: false);
        server.Tell(Wait.Instance, TestActor);
        Assert.Equal(path, ExpectMsg<Served>(Patience).SocketPath);

        using var first = await ConnectAsync(path);
        using var second = await ConnectAsync(path);
        ExpectMsg<Socket>(Patience).Dispose();
        ExpectMsg<Socket>(Patience).Dispose();
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
    }

    [Fact]
    public async Task A_deferred_server_must_bind_only_when_claimed_and_then_take_the_path_from_the_socket_serving_it()
    {
        var path = PathOf("deferred.sock");
        using var predecessor = ListenElsewhere(path);
        var server = Start(path, deferBind: true);
        server.Tell(Wait.Instance, TestActor);
        ExpectNoMsg(TimeSpan.FromMilliseconds(500)); // not bound: the predecessor still serves the path

        server.Tell(Take.Instance, TestActor);
        ExpectMsg<Served>(Patience);
        ExpectMsg<Served>(Patience); // the WaitUntilBound that waited, answered too

        using var client = await ConnectAsync(path);
        ExpectMsg<Socket>(Patience).Dispose();
    }

    [Fact]
    public async Task A_server_claimed_while_serving_must_take_its_path_back_from_a_socket_that_replaced_its_file()
    {
        var path = PathOf("reclaimed.sock");
        var server = Start(path, deferBind: false);
        server.Tell(Wait.Instance, TestActor);
        ExpectMsg<Served>(Patience);
        using var successor = ListenElsewhere(path); // a successor renamed its file over the path, then died

        server.Tell(Take.Instance, TestActor);
        ExpectMsg<Served>(Patience);

        using var client = await ConnectAsync(path);
        ExpectMsg<Socket>(Patience).Dispose();
    }

    [Fact]
    public void A_server_that_cannot_bind_must_answer_with_the_reason_every_time_and_bind_when_claimed_once_the_path_is_free()
    {
        var path = PathOf("in-the-way.sock");
        File.WriteAllText(path, "not a socket");
        var server = Start(path, deferBind: false);

        server.Tell(Wait.Instance, TestActor);
        var failed = ExpectMsg<NotServed>(Patience);
        Assert.Contains("is not a socket", failed.Reason);
        server.Tell(Wait.Instance, TestActor);
        Assert.Equal(failed.Reason, ExpectMsg<NotServed>(Patience).Reason);

        File.Delete(path);
        server.Tell(Take.Instance, TestActor);
        ExpectMsg<Served>(Patience);
        server.Tell(Wait.Instance, TestActor);
        ExpectMsg<Served>(Patience);
    }

    [Fact]
    public void A_stopped_server_must_close_its_socket_and_remove_its_file()
    {
        var path = PathOf("stopped.sock");
        var server = Start(path, deferBind: false);
        server.Tell(Wait.Instance, TestActor);
        ExpectMsg<Served>(Patience);

        Watch(server);
        Sys.Stop(server);
        ExpectTerminated(server, Patience);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void The_upgrade_socket_must_answer_a_Claim_while_serving_once_it_holds_the_path_again()
    {
        var path = PathOf("upgrade.sock");
        var settings = new UpgradeSettings(true, path, 16, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30), StabilityPeriod: TimeSpan.Zero,
            RollbackGrace: TimeSpan.FromSeconds(1), CheckInterval: TimeSpan.FromHours(1), LetGoMargin: TimeSpan.FromSeconds(5));
        var upgrade = Sys.ActorOf(ShardRuntime.Actors.Upgrade.UpgradeSocketActor.Props(settings, deferred: false));
        upgrade.Tell(PredecessorProtocol.WaitUntilBound.Instance, TestActor);
        ExpectMsg<PredecessorProtocol.Bound>(Patience);
        using var successor = ListenElsewhere(path);

        upgrade.Tell(PredecessorProtocol.Claim.Instance, TestActor);
        Assert.Equal(path, ExpectMsg<PredecessorProtocol.Bound>(Patience).SocketPath);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        try { _directory.Delete(recursive: true); }
        catch (IOException) { }
    }

    private sealed class Wait
    {
        public static readonly Wait Instance = new();
        private Wait() { }
    }

    private sealed class Take
    {
        public static readonly Take Instance = new();
        private Take() { }
    }

    private sealed record Served(string SocketPath);

    private sealed record NotServed(string SocketPath, string Reason);

    /// <summary>A server whose peers go to <paramref name="owner"/>.</summary>
    private sealed class PeerForwardingServer(UnixSocketServerSettings settings, IActorRef owner) : UnixSocketServerActor<Wait, Take>(settings)
    {
        protected override object BoundReply(string socketPath) => new Served(socketPath);

        protected override object BindFailedReply(string socketPath, string reason) => new NotServed(socketPath, reason);

        protected override void OnPeer(Socket peer) => owner.Tell(peer);

        protected override void ReceiveOwn()
        {
        }
    }
}
