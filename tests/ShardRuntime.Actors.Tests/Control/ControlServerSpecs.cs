using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Akka.Actor;
using Akka.TestKit;
using ShardRuntime.Actors.Control;
using ShardRuntime.Actors.Settings;
using Xunit.Abstractions;
using ControlProtocol = ShardRuntime.Actors.Control.Control;

namespace ShardRuntime.Actors.Tests.Control;

using Coordinator = ShardRuntime.Actors.Coordinator.Coordinator;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ControlServerSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private readonly ITestOutputHelper _output;
    private readonly DirectoryInfo _directory;

    public ControlServerSpecs(ITestOutputHelper output) : base("akka.loglevel = DEBUG", output)
    {
        _output = output;
        _directory = Directory.CreateTempSubdirectory("shardruntime-control-");
    }

    private string SocketPath => Path.Combine(_directory.FullName, "control.sock");

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        try { _directory.Delete(recursive: true); }
        catch (IOException) { }
    }

    private sealed record Started(IActorRef Server, TestProbe Coordinator, string Path);

    private Started Start(string? path = null, int maxRequestBytes = 1024, TimeSpan? requestTimeout = null)
    {
        var coordinator = CreateTestProbe("coordinator");
        var settings = new ControlSettings(true, path ?? SocketPath, maxRequestBytes, requestTimeout ?? TimeSpan.FromSeconds(5));
        var server = Sys.ActorOf(ControlProtocol.Props(settings, coordinator.Ref));
        server.Tell(ControlProtocol.WaitUntilBound.Instance, TestActor);
        var bound = ExpectMsg<ControlProtocol.Bound>(Patience);
        return new Started(server, coordinator, bound.SocketPath);
    }

    private static Coordinator.NodeStatus SampleStatus() => new(
        ProcessId: 4242,
        StartedAt: new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero),
        Draining: false,
        Listeners:
        [
            new Coordinator.ListenerStatus("http", "127.0.0.1:8080/tcp", "tcp", "http-ok", 2, 1000, 42, 3,
            2, [new Coordinator.GenerationStatus(2, "http-ok", true, 2, null, null), new Coordinator.GenerationStatus(1, "http-ok", false, 1, null, null)], null,
            [
                new Coordinator.ShardStatus(0, "accepting", 987654, 40, 2, 100, 200),
                new Coordinator.ShardStatus(1, "retiring", 987655, 2, 1, 10, 20),
            ]),
        ]);

    [Fact]
    public async Task Status_request_is_answered_with_the_coordinators_node_status_in_camel_case()
    {
        var (_, coordinator, path) = Start();

        var reply = ControlTestClient.SendAsync(path, "{\"command\":\"status\"}\n");
        coordinator.ExpectMsg<Coordinator.GetStatus>(Patience);
        coordinator.Reply(SampleStatus());
        var json = await reply.WaitAsync(Patience);

        Assert.True(json.GetProperty("ok").GetBoolean());
        var status = json.GetProperty("status");
        Assert.Equal(4242, status.GetProperty("processId").GetInt32());
        var listener = status.GetProperty("listeners")[0];
        Assert.Equal("http", listener.GetProperty("name").GetString());
        Assert.Equal("127.0.0.1:8080/tcp", listener.GetProperty("endPoint").GetString());
        Assert.Equal(2, listener.GetProperty("desiredShards").GetInt32());
        Assert.Equal(987655, listener.GetProperty("shards")[1].GetProperty("socketInode").GetInt64());
        Assert.Equal("retiring", listener.GetProperty("shards")[1].GetProperty("state").GetString());
    }

    [Fact]
    public async Task Scale_request_sends_ScaleTo_and_returns_ScaledTo_as_result()
    {
        var (_, coordinator, path) = Start();

        var reply = ControlTestClient.SendAsync(path, "{\"command\":\"scale\",\"listener\":\"http\",\"shards\":4}\n");
        var scale = coordinator.ExpectMsg<Coordinator.ScaleTo>(Patience);
        Assert.Equal(new Coordinator.ScaleTo("http", 4), scale);
        coordinator.Reply(new Coordinator.ScaledTo("http", 4, 1));
        var json = await reply.WaitAsync(Patience);

        Assert.True(json.GetProperty("ok").GetBoolean());
        var result = json.GetProperty("result");
        Assert.Equal("http", result.GetProperty("listener").GetString());
        Assert.Equal(4, result.GetProperty("shards").GetInt32());
        Assert.Equal(1, result.GetProperty("retiring").GetInt32());
    }

    [Fact]
    public async Task Command_the_coordinator_refuses_is_answered_with_its_reason()
    {
        var (_, coordinator, path) = Start();

        var reply = ControlTestClient.SendAsync(path, "{\"command\":\"scale\",\"listener\":\"nope\",\"shards\":2}\n");
        var scale = coordinator.ExpectMsg<Coordinator.ScaleTo>(Patience);
        coordinator.Reply(new Coordinator.CommandFailed(scale, "no listener named 'nope'"));
        var json = await reply.WaitAsync(Patience);

        Assert.False(json.GetProperty("ok").GetBoolean());
        Assert.Equal("no listener named 'nope'", json.GetProperty("error").GetString());
    }

    [Theory]
    [InlineData("{\"command\":\"reload-everything\"}", "unknown command 'reload-everything' (known: listener-remove, listener-set, listener-show, reload, scale, status, upgrade)")]
    [InlineData("{not json", "malformed JSON")]
    [InlineData("", "malformed JSON")]
    [InlineData("[1,2]", "the request must be a JSON object, got an array")]
    [InlineData("{}", "missing field 'command'")]
    [InlineData("{\"command\":5}", "field 'command' must be a string, got a number")]
    [InlineData("{\"command\":\"scale\",\"shards\":4}", "missing field 'listener'")]
    [InlineData("{\"command\":\"scale\",\"listener\":\"http\"}", "missing field 'shards'")]
    [InlineData("{\"command\":\"scale\",\"listener\":\"http\",\"shards\":\"four\"}", "field 'shards' must be an integer, got a string")]
    [InlineData("{\"command\":\"scale\",\"listener\":\"http\",\"shards\":1.5}", "field 'shards' must be an integer, got the number 1.5")]
    [InlineData("{\"command\":\"scale\",\"listener\":\"http\",\"shards\":-1}", "field 'shards' must be between 0 and")]
    [InlineData("{\"command\":\"scale\",\"listener\":\"\",\"shards\":1}", "field 'listener' must not be empty")]
    public async Task Request_the_server_cannot_read_is_answered_with_an_error_naming_the_problem(string request, string expected)
    {
        var (_, coordinator, path) = Start();

        var json = await ControlTestClient.SendAsync(path, request + "\n").WaitAsync(Patience);

        Assert.False(json.GetProperty("ok").GetBoolean());
        Assert.StartsWith(expected, json.GetProperty("error").GetString());
        // The server answers only after it has decided not to ask: nothing reached the coordinator.
        Assert.False(coordinator.HasMessages);
    }

    [Fact]
    public async Task Request_that_is_not_UTF8_is_answered_as_malformed()
    {
        var (_, _, path) = Start();

        var json = await ControlTestClient.SendAsync(path, [(byte)'{', (byte)'"', 0xFF, 0xFE, (byte)'"', (byte)'}', (byte)'\n']).WaitAsync(Patience);

        Assert.False(json.GetProperty("ok").GetBoolean());
        Assert.StartsWith("malformed JSON", json.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Oversized_request_is_refused_and_the_next_client_is_still_served()
    {
        var (_, coordinator, path) = Start(maxRequestBytes: 1024);

        var tooLong = Encoding.UTF8.GetBytes("{\"command\":\"status\",\"pad\":\"" + new string('x', 5000) + "\"}\n");
        var refused = await ControlTestClient.SendAsync(path, tooLong).WaitAsync(Patience);
        Assert.False(refused.GetProperty("ok").GetBoolean());
        Assert.Equal("request exceeds 1024 bytes", refused.GetProperty("error").GetString());

        var reply = ControlTestClient.SendAsync(path, "{\"command\":\"status\"}\n");
        coordinator.ExpectMsg<Coordinator.GetStatus>(Patience);
        coordinator.Reply(SampleStatus());
        Assert.True((await reply.WaitAsync(Patience)).GetProperty("ok").GetBoolean());
    }

    [Fact]
    public async Task Request_of_exactly_the_limit_is_served()
    {
        var (_, coordinator, path) = Start(maxRequestBytes: 256);

        var request = "{\"command\":\"status\"}";
        request += new string(' ', 256 - request.Length);
        var reply = ControlTestClient.SendAsync(path, request + "\n");
        coordinator.ExpectMsg<Coordinator.GetStatus>(Patience);
        coordinator.Reply(SampleStatus());

        Assert.True((await reply.WaitAsync(Patience)).GetProperty("ok").GetBoolean());
    }

    [Fact]
    public async Task Request_ended_by_half_close_instead_of_newline_is_served()
    {
        var (_, coordinator, path) = Start();

        using var socket = await ControlTestClient.ConnectAsync(path);
        await socket.SendAsync(Encoding.UTF8.GetBytes("{\"command\":\"status\"}"), SocketFlags.None);
        socket.Shutdown(SocketShutdown.Send);
        var reply = ControlTestClient.SendOnAsync(socket, []);
        coordinator.ExpectMsg<Coordinator.GetStatus>(Patience);
        coordinator.Reply(SampleStatus());

        Assert.True((await reply.WaitAsync(Patience)).GetProperty("ok").GetBoolean());
    }

    [Fact]
    public void Socket_file_is_mode_0600_in_a_created_directory_of_mode_0700()
    {
        var path = Path.Combine(_directory.FullName, "run", "shardruntime", "control.sock");

        Start(path);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(path)!));
    }

    [Fact]
    public async Task Coordinator_that_does_not_answer_in_time_gives_an_error_reply()
    {
        var (_, coordinator, path) = Start(requestTimeout: TimeSpan.FromMilliseconds(500));

        var reply = ControlTestClient.SendAsync(path, "{\"command\":\"status\"}\n");
        coordinator.ExpectMsg<Coordinator.GetStatus>(Patience);
        var json = await reply.WaitAsync(Patience);

        Assert.False(json.GetProperty("ok").GetBoolean());
        Assert.Equal("the node did not answer 'status' within 500ms", json.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Incomplete_request_is_answered_with_a_timeout_error_while_other_clients_are_served()
    {
        var (_, coordinator, path) = Start(requestTimeout: TimeSpan.FromSeconds(2));

        using var slow = await ControlTestClient.ConnectAsync(path);
        await slow.SendAsync(Encoding.UTF8.GetBytes("{\"command\":"), SocketFlags.None);
        var slowReply = ControlTestClient.SendOnAsync(slow, []);

        // While the slow client hangs, another one is served.
        var reply = ControlTestClient.SendAsync(path, "{\"command\":\"status\"}\n");
        coordinator.ExpectMsg<Coordinator.GetStatus>(Patience);
        coordinator.Reply(SampleStatus());
        Assert.True((await reply.WaitAsync(Patience)).GetProperty("ok").GetBoolean());
        Assert.False(slowReply.IsCompleted);

        var json = await slowReply.WaitAsync(Patience);
        Assert.False(json.GetProperty("ok").GetBoolean());
        Assert.StartsWith("no complete request", json.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Client_that_leaves_without_a_request_does_not_disturb_the_server()
    {
        var (_, coordinator, path) = Start();

        using (await ControlTestClient.ConnectAsync(path))
        {
        }

        var reply = ControlTestClient.SendAsync(path, "{\"command\":\"status\"}\n");
        coordinator.ExpectMsg<Coordinator.GetStatus>(Patience);
        coordinator.Reply(SampleStatus());
        Assert.True((await reply.WaitAsync(Patience)).GetProperty("ok").GetBoolean());
    }

    [Fact]
    public async Task Stale_socket_file_of_a_dead_node_is_replaced()
    {
        // A socket file nobody listens on: bind (no listen) elsewhere, then move the file onto the control path.
        var staging = Path.Combine(_directory.FullName, "staging.sock");
        using (var dead = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            dead.Bind(new UnixDomainSocketEndPoint(staging));
            File.Move(staging, SocketPath);
        }
        Assert.True(File.Exists(SocketPath));

        var (_, coordinator, path) = Start();

        var reply = ControlTestClient.SendAsync(path, "{\"command\":\"status\"}\n");
        coordinator.ExpectMsg<Coordinator.GetStatus>(Patience);
        coordinator.Reply(SampleStatus());
        Assert.True((await reply.WaitAsync(Patience)).GetProperty("ok").GetBoolean());
    }

    [Fact]
    public async Task Second_server_on_a_live_path_fails_to_start_and_the_first_keeps_serving()
    {
        var (_, coordinator, path) = Start();

        var second = Sys.ActorOf(ControlProtocol.Props(new ControlSettings(true, path, 1024, TimeSpan.FromSeconds(5)), CreateTestProbe().Ref));
        second.Tell(ControlProtocol.WaitUntilBound.Instance, TestActor);
        var failed = ExpectMsg<ControlProtocol.BindFailed>(Patience);
        Assert.Equal($"another node already serves {path}", failed.Reason);

        // Asked again later, it gives the same answer.
        second.Tell(ControlProtocol.WaitUntilBound.Instance, TestActor);
        ExpectMsg<ControlProtocol.BindFailed>(Patience);

        var reply = ControlTestClient.SendAsync(path, "{\"command\":\"status\"}\n");
        coordinator.ExpectMsg<Coordinator.GetStatus>(Patience);
        coordinator.Reply(SampleStatus());
        Assert.True((await reply.WaitAsync(Patience)).GetProperty("ok").GetBoolean());
    }

    [Fact]
    public void File_in_the_way_that_is_not_a_socket_fails_start_up_and_is_left_alone()
    {
        File.WriteAllText(SocketPath, "precious");

        var server = Sys.ActorOf(ControlProtocol.Props(new ControlSettings(true, SocketPath, 1024, TimeSpan.FromSeconds(5)), CreateTestProbe().Ref));
        server.Tell(ControlProtocol.WaitUntilBound.Instance, TestActor);

        var failed = ExpectMsg<ControlProtocol.BindFailed>(Patience);
        Assert.Contains("exists and is not a socket", failed.Reason);
        Assert.Equal("precious", File.ReadAllText(SocketPath));
    }

    [Fact]
    public async Task Stopping_the_server_closes_the_socket_and_removes_its_file()
    {
        var (server, _, path) = Start();

        Watch(server);
        Sys.Stop(server);
        ExpectTerminated(server, Patience);

        Assert.False(File.Exists(path));
        var error = await Assert.ThrowsAsync<SocketException>(() => ControlTestClient.ConnectAsync(path));
        _output.WriteLine($"connect after stop: {error.SocketErrorCode}");
    }

    [Fact]
    public async Task Peer_with_another_uid_is_refused_before_its_request_is_read()
    {
        if (ShardRuntime.Runtime.Sockets.ProcessIdentity.EffectiveUserId != 0)
        {
            _output.WriteLine("Not run: needs root to start a client as user nobody (runuser).");
            return;
        }
        const string python = "/usr/bin/python3";
        if (!File.Exists(python) || !File.Exists("/usr/sbin/runuser") && !File.Exists("/sbin/runuser"))
        {
            _output.WriteLine($"Not run: needs {python} and runuser to start a client as user nobody.");
            return;
        }

        // nobody must be able to reach and connect to the socket, so that SO_PEERCRED is what refuses it.
        var directory = Directory.CreateTempSubdirectory("shardruntime-control-peer-");
        try
        {
            File.SetUnixFileMode(directory.FullName,
                UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
            var (_, coordinator, path) = Start(Path.Combine(directory.FullName, "control.sock"));
            File.SetUnixFileMode(path,
                UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite
                | UnixFileMode.OtherRead | UnixFileMode.OtherWrite);

            const string client = """
                import socket, sys
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(10)
                s.connect(sys.argv[1])
                try:
                    s.sendall(b'{"command":"status"}\n')
                except OSError:
                    pass
                data = b''
                while not data.endswith(b'\n'):
                    try:
                        chunk = s.recv(4096)
                    except ConnectionResetError:
                        break
                    if not chunk:
                        break
                    data += chunk
                sys.stdout.write(data.decode())
                """;
            var (exitCode, stdout, stderr) = await RunAsync("runuser", ["-u", "nobody", "--", python, "-c", client, path]);
            _output.WriteLine($"client exit {exitCode}, stdout: {stdout}, stderr: {stderr}");

            Assert.Equal(0, exitCode);
            using var reply = JsonDocument.Parse(stdout);
            Assert.False(reply.RootElement.GetProperty("ok").GetBoolean());
            Assert.Equal("permission denied: peer uid 65534 is not the node's uid 0", reply.RootElement.GetProperty("error").GetString());
            Assert.False(coordinator.HasMessages);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string file, IReadOnlyList<string> arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        try
        {
            using var cts = new CancellationTokenSource(Patience);
            var stdout = process.StandardOutput.ReadToEndAsync(cts.Token);
            var stderr = process.StandardError.ReadToEndAsync(cts.Token);
            await process.WaitForExitAsync(cts.Token);
            return (process.ExitCode, await stdout, await stderr);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(Patience);
            }
        }
    }
}
