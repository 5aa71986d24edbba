using System.Net.Sockets;
using Akka.Actor;
using ShardRuntime.Actors.ControlSocket;
using ShardRuntime.Actors.Coordination;
using ShardRuntime.Actors.Settings;
using Xunit.Abstractions;
using ControlProtocol = ShardRuntime.Actors.ControlSocket.Control;
using PredecessorProtocol = ShardRuntime.Actors.Upgrade.Predecessor;

namespace ShardRuntime.Actors.Tests.Control;

/// <summary>
/// The control and upgrade sockets notice when their files are lost (deleted, replaced by a stale socket file) and bind
/// them again, so that the CLI and a successor find the node by path; a live server's socket found there is left alone.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SocketFileWatchSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan Often = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan Never = TimeSpan.FromHours(1);
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("shardruntime-watch-");

    public SocketFileWatchSpecs(ITestOutputHelper output) : base("akka.loglevel = INFO", output)
    {
    }

    private string PathOf(string name) => System.IO.Path.Combine(_directory.FullName, name);

    private IActorRef StartControl(string path, TimeSpan checkInterval)
    {
        var server = Sys.ActorOf(ControlProtocol.Props(new ControlSettings(true, path, 1024, TimeSpan.FromSeconds(5), checkInterval), CreateTestProbe().Ref));
        server.Tell(ControlProtocol.WaitUntilBound.Instance, TestActor);
        ExpectMsg<ControlProtocol.Bound>(Patience);
        return server;
    }

    /// <summary>Whether a client can connect to <paramref name="path"/> now.</summary>
    private static async Task<bool> ConnectsAsync(string path)
    {
        try
        {
            using var client = await ControlTestClient.ConnectAsync(path, TimeSpan.FromSeconds(5));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    [Fact]
    public async Task A_deleted_control_socket_file_must_be_bound_again_within_the_check_interval_and_serve()
    {
        var path = PathOf("control.sock");
        StartControl(path, Often);

        await EventFilter.Warning(contains: "was deleted; bound again").ExpectOneAsync(Patience, () =>
        {
            File.Delete(path);
            return Task.CompletedTask;
        });

        Assert.True(await ConnectsAsync(path), "the control socket was not bound again");
    }

    [Fact]
    public async Task A_deleted_control_socket_file_must_be_bound_again_at_once_when_asked_through_the_event_stream()
    {
        var path = PathOf("control.sock");
        StartControl(path, Never);
        File.Delete(path);
        Assert.False(await ConnectsAsync(path));

        await EventFilter.Warning(contains: "was deleted; bound again").ExpectOneAsync(Patience, () =>
        {
            Sys.EventStream.Publish(ControlProtocol.CheckSocketFiles.Instance); // what the host does on SIGHUP
            return Task.CompletedTask;
        });

        Assert.True(await ConnectsAsync(path));
    }

    [Fact]
    public async Task A_control_socket_file_replaced_by_a_stale_socket_must_be_bound_again_naming_what_was_found()
    {
        var path = PathOf("control.sock");
        StartControl(path, Often);
        File.Delete(path);
        using var stale = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        stale.Bind(new UnixDomainSocketEndPoint(path)); // bound, never listening: what a dead node leaves

        await EventFilter.Warning(contains: "replaced by another socket file").ExpectOneAsync(Patience, () => Task.CompletedTask);

        await AwaitAssertAsync(async () => Assert.True(await ConnectsAsync(path)), Patience);
    }

    [Fact]
    public async Task A_control_socket_path_taken_by_a_live_server_must_be_left_to_it_and_said_once()
    {
        var path = PathOf("control.sock");
        StartControl(path, Often);
        File.Delete(path);
        using var other = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        other.Bind(new UnixDomainSocketEndPoint(path));
        other.Listen();

        await EventFilter.Warning(contains: "left alone, not bound again").ExpectOneAsync(Patience, () => Task.CompletedTask);
        // Checked every 100 ms: it is not said again, and the other server keeps the path.
        await EventFilter.Warning(contains: "left alone").ExpectAsync(0, TimeSpan.FromSeconds(1), () => Task.CompletedTask);
        using var client = await ControlTestClient.ConnectAsync(path);
        using var accepted = await other.AcceptAsync().WaitAsync(Patience);
    }

    [Fact]
    public async Task A_deleted_upgrade_socket_file_must_be_bound_again_within_the_check_interval()
    {
        var path = PathOf("upgrade.sock");
        var settings = new UpgradeSettings(true, path, 16, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30), StabilityPeriod: TimeSpan.Zero, RollbackGrace: TimeSpan.FromSeconds(1), CheckInterval: Often, LetGoMargin: TimeSpan.FromSeconds(5));
        var upgrade = Sys.ActorOf(ShardRuntime.Actors.Upgrade.UpgradeSocketActor.Props(settings, deferred: false));
        upgrade.Tell(PredecessorProtocol.WaitUntilBound.Instance, TestActor);
        ExpectMsg<PredecessorProtocol.Bound>(Patience);

        await EventFilter.Warning(contains: "was deleted; bound again").ExpectOneAsync(Patience, () =>
        {
            File.Delete(path);
            return Task.CompletedTask;
        });

        Assert.True(await ConnectsAsync(path), "the upgrade socket was not bound again");
    }

    [Fact]
    public void What_is_found_at_the_path_decides_whether_to_bind_again()
    {
        ControlSocketFile.FileState At(ControlSocketFile.FileKind kind, ulong inode) => new(kind, inode);

        Assert.Null(ControlSocketFile.Describe(7, 0, At(ControlSocketFile.FileKind.Socket, 7)));
        Assert.Null(ControlSocketFile.Describe(7, 9, At(ControlSocketFile.FileKind.Socket, 9))); // found before, left alone
        Assert.Null(ControlSocketFile.Describe(7, 0, At(ControlSocketFile.FileKind.Unknown, 0))); // cannot tell: nothing done
        Assert.Equal("deleted", ControlSocketFile.Describe(7, 9, At(ControlSocketFile.FileKind.Missing, 0)));
        Assert.Equal("replaced by another socket file (inode 8)", ControlSocketFile.Describe(7, 9, At(ControlSocketFile.FileKind.Socket, 8)));
        Assert.Equal("replaced by a file that is not a socket (inode 8)", ControlSocketFile.Describe(7, 0, At(ControlSocketFile.FileKind.Other, 8)));
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        try { _directory.Delete(recursive: true); }
        catch (IOException) { }
    }
}
