using ShardRuntime.Actors.Coordination;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Akka.Actor;
using Akka.TestKit;
using ShardRuntime.Actors.Cluster;
using ShardRuntime.Actors.ControlSocket;
using ShardRuntime.Actors.Settings;
using Xunit.Abstractions;
using ControlProtocol = ShardRuntime.Actors.ControlSocket.Control;

namespace ShardRuntime.Actors.Tests.Control;

using Coordinator = ShardRuntime.Actors.Coordination.Coordinator;

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

    /// <param name="cluster">The node's cluster actor; null: the node takes part in no cluster.</param>
    /// <param name="adjust">Changes to the settings (the answer timeouts derived from other sections).</param>
    private Started Start(
        string? path = null, int maxRequestBytes = 1024, TimeSpan? requestTimeout = null, IActorRef? cluster = null,
        Func<ControlSettings, ControlSettings>? adjust = null)
    {
        var coordinator = CreateTestProbe("coordinator");
        var settings = new ControlSettings(true, path ?? SocketPath, maxRequestBytes, requestTimeout ?? TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(2));
        if (adjust is not null) settings = adjust(settings);
        var server = Sys.ActorOf(ControlProtocol.Props(settings, coordinator.Ref, cluster: cluster));
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
        coordinator.Reply(new Status.Failure(new CommandFailedException(scale, "no listener named 'nope'")));
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
    [InlineData("{\"command\":\"scale\",\"listener\":\"http\",\"shards\":2,\"role\":\"edge\"}", "field 'role' needs \"cluster\": true")]
    [InlineData("{\"command\":\"scale\",\"listener\":\"http\",\"shards\":2,\"cluster\":\"yes\"}", "field 'cluster' must be true or false, got a string")]
    [InlineData("{\"command\":\"status\",\"cluster\":1}", "field 'cluster' must be true or false, got the number 1")]
    [InlineData("{\"command\":\"listener-set\",\"listener\":\"api\",\"roles\":\"edge\"}", "field 'roles' must be an array of strings, got a string")]
    [InlineData("{\"command\":\"listener-set\",\"listener\":\"api\",\"roles\":[\"edge\",\"\"]}", "field 'roles' must hold non-empty strings, got a string")]
    [InlineData("{\"command\":\"listener-set\",\"listener\":\"api\",\"roles\":[\"edge\",3]}", "field 'roles' must hold non-empty strings, got the number 3")]
    [InlineData("{\"command\":\"listener-set\",\"listener\":\"api\",\"shards\":\"two\"}", "field 'shards' must be an integer, got a string")]
    [InlineData("{\"command\":\"listener-set\",\"listener\":\"api\",\"reload\":\"yes\"}", "field 'reload' must be true or false, got a string")]
    [InlineData("{\"command\":\"listener-set\",\"definition\":\"endpoint = x\"}", "missing field 'listener'")]
    [InlineData("{\"command\":\"listener-remove\"}", "missing field 'listener'")]
    // Found with the fuzz harness (bench/fuzz.sh control): an escaped lone surrogate got no answer at all.
    [InlineData("{\"command\":\"\\ud800\"}", "field 'command' is not valid Unicode")]
    [InlineData("{\"command\":\"scale\",\"listener\":\"a\\udc00b\",\"shards\":1}", "field 'listener' is not valid Unicode")]
    [InlineData("{\"command\":\"listener-set\",\"listener\":\"a\",\"roles\":[\"\\ud800\"]}", "field 'roles' is not valid Unicode")]
    public async Task Request_the_server_cannot_read_is_answered_with_an_error_naming_the_problem(string request, string expected)
    {
        var cluster = CreateTestProbe("cluster");
        var (_, coordinator, path) = Start(cluster: cluster.Ref);

        var json = await ControlTestClient.SendAsync(path, request + "\n").WaitAsync(Patience);

        Assert.False(json.GetProperty("ok").GetBoolean());
        Assert.StartsWith(expected, json.GetProperty("error").GetString());
        // The server answers only after it has decided not to ask: nothing reached the coordinator or the cluster actor.
        Assert.False(coordinator.HasMessages);
        Assert.False(cluster.HasMessages);
    }

    /// <summary>The last two found by fuzzing (bench/fuzz.sh control): a string member that is not UTF-8 got no answer at all.</summary>
    [Theory]
    [InlineData("{\"\xFF\xFE\"}\n", 2)]
    [InlineData("{\"command\":\"stat\xFF\x7F\"}\n", 16)]
    [InlineData("{\"command\":\"reload\",\"listener\":\"X\x81tp\"}\n", 33)]
    public async Task Request_that_is_not_UTF8_is_refused_naming_the_first_bad_byte(string request, int offset)
    {
        var (_, coordinator, path) = Start();

        var json = await ControlTestClient.SendAsync(path, Encoding.Latin1.GetBytes(request)).WaitAsync(Patience);

        Assert.False(json.GetProperty("ok").GetBoolean());
        Assert.Equal($"the request is not UTF-8 (byte {offset})", json.GetProperty("error").GetString());
        Assert.False(coordinator.HasMessages);
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

    /// <summary>
    /// Sends <paramref name="request"/> to a node in a cluster; answers what its cluster actor is asked with
    /// <paramref name="answer"/>. Returns what the cluster actor was asked and the reply line; the coordinator is asked nothing.
    /// </summary>
    private async Task<(object Asked, JsonElement Reply)> AskClusterAsync(string request, Func<object, object> answer)
    {
        var cluster = CreateTestProbe("cluster");
        var (_, coordinator, path) = Start(cluster: cluster.Ref);

        var reply = ControlTestClient.SendAsync(path, request + "\n");
        var asked = cluster.ExpectMsg<object>(Patience);
        cluster.Reply(answer(asked));
        var json = await reply.WaitAsync(Patience);

        Assert.False(coordinator.HasMessages);
        return (asked, json);
    }

    private static ClusterListeners.ListenerChanged Changed(string listener) =>
        new(ClusterListener.New(listener) with { Shards = 4, ChangedBy = "akka.tcp://shardruntime@127.0.0.11:4053" }, "all", 3);

    [Fact]
    public async Task Cluster_status_request_is_routed_to_the_cluster_actor_and_answered_with_every_member()
    {
        var status = new ClusterListeners.ClusterStatus(
            "akka.tcp://shardruntime@127.0.0.11:4053", "akka.tcp://shardruntime@127.0.0.11:4053",
            [ClusterListener.New("http") with { Shards = 3 }],
            [
                new ClusterListeners.MemberStatus("akka.tcp://shardruntime@127.0.0.11:4053", ["edge"], "Up", true, SampleStatus(), "in sync", null),
                new ClusterListeners.MemberStatus("akka.tcp://shardruntime@127.0.0.12:4053", [], "Up", false, null, null, "unreachable"),
            ]);

        var (asked, json) = await AskClusterAsync("{\"command\":\"status\",\"cluster\":true}", _ => status);

        Assert.Same(ClusterListeners.GetClusterStatus.Instance, asked);
        Assert.True(json.GetProperty("ok").GetBoolean());
        var result = json.GetProperty("result");
        Assert.Equal("akka.tcp://shardruntime@127.0.0.11:4053", result.GetProperty("selfAddress").GetString());
        Assert.Equal(3, result.GetProperty("desired")[0].GetProperty("shards").GetInt32());
        var members = result.GetProperty("members");
        Assert.Equal(4242, members[0].GetProperty("node").GetProperty("processId").GetInt32());
        Assert.Equal("in sync", members[0].GetProperty("following").GetString());
        Assert.False(members[1].GetProperty("reachable").GetBoolean());
        Assert.Equal("unreachable", members[1].GetProperty("error").GetString());
    }

    [Fact]
    public async Task Cluster_scale_request_sends_ScaleListener_with_its_role_and_returns_the_stored_listener()
    {
        var (asked, json) = await AskClusterAsync("{\"command\":\"scale\",\"listener\":\"http\",\"shards\":4,\"cluster\":true,\"role\":\"edge\"}", _ => Changed("http"));

        Assert.Equal(new ClusterListeners.ScaleListener("http", 4, "edge"), asked);
        Assert.True(json.GetProperty("ok").GetBoolean());
        var result = json.GetProperty("result");
        Assert.Equal("all", result.GetProperty("storedBy").GetString());
        Assert.Equal(3, result.GetProperty("nodes").GetInt32());
        Assert.Equal(4, result.GetProperty("listener").GetProperty("shards").GetInt32());
    }

    [Fact]
    public async Task Cluster_scale_request_without_a_role_scales_every_node()
    {
        var (asked, _) = await AskClusterAsync("{\"command\":\"scale\",\"listener\":\"http\",\"shards\":4,\"cluster\":true}", _ => Changed("http"));

        Assert.Equal(new ClusterListeners.ScaleListener("http", 4, null), asked);
    }

    [Fact]
    public async Task A_request_with_cluster_false_goes_to_the_coordinator()
    {
        var cluster = CreateTestProbe("cluster");
        var (_, coordinator, path) = Start(cluster: cluster.Ref);

        var reply = ControlTestClient.SendAsync(path, "{\"command\":\"scale\",\"listener\":\"http\",\"shards\":4,\"cluster\":false}\n");
        Assert.Equal(new Coordinator.ScaleTo("http", 4), coordinator.ExpectMsg<Coordinator.ScaleTo>(Patience));
        coordinator.Reply(new Coordinator.ScaledTo("http", 4, 0));

        Assert.True((await reply.WaitAsync(Patience)).GetProperty("ok").GetBoolean());
        Assert.False(cluster.HasMessages);
    }

    [Fact]
    public async Task Listener_set_request_sends_SetListener_with_everything_given()
    {
        var (asked, json) = await AskClusterAsync(
            "{\"command\":\"listener-set\",\"listener\":\"api\",\"definition\":\"endpoint = \\\"0.0.0.0:9000\\\"\",\"shards\":2,\"roles\":[\"edge\",\"core\"],\"reload\":true}",
            _ => Changed("api"));

        var set = Assert.IsType<ClusterListeners.SetListener>(asked);
        Assert.Equal(("api", "endpoint = \"0.0.0.0:9000\"", (int?)2, true), (set.Listener, set.Definition, set.Shards, set.Reload));
        Assert.Equal(["edge", "core"], set.Roles);
        Assert.Equal("api", json.GetProperty("result").GetProperty("listener").GetProperty("name").GetString());
    }

    [Fact]
    public async Task Listener_set_request_with_only_the_listener_leaves_everything_else_unset()
    {
        var (asked, _) = await AskClusterAsync("{\"command\":\"listener-set\",\"listener\":\"api\",\"roles\":[]}", _ => Changed("api"));

        var set = Assert.IsType<ClusterListeners.SetListener>(asked);
        Assert.Equal(("api", (string?)null, (int?)null, false), (set.Listener, set.Definition, set.Shards, set.Reload));
        Assert.NotNull(set.Roles);
        Assert.Empty(set.Roles); // an empty list: every node, unlike no list
    }

    [Fact]
    public async Task Listener_remove_request_sends_RemoveListener()
    {
        var (removed, json) = await AskClusterAsync("{\"command\":\"listener-remove\",\"listener\":\"api\"}", _ => Changed("api"));

        Assert.Equal(new ClusterListeners.RemoveListener("api"), removed);
        Assert.True(json.GetProperty("ok").GetBoolean());
    }

    [Fact]
    public async Task Listener_show_request_is_answered_with_the_desired_state()
    {
        var (shown, json) = await AskClusterAsync("{\"command\":\"listener-show\"}",
            _ => new ClusterListeners.DesiredState([ClusterListener.New("api") with { Removed = true }]));
        Assert.Same(ClusterListeners.GetDesiredState.Instance, shown);
        Assert.True(json.GetProperty("result").GetProperty("listeners")[0].GetProperty("removed").GetBoolean());
    }

    [Fact]
    public async Task A_cluster_change_the_cluster_actor_refuses_is_answered_with_its_reason()
    {
        var (_, json) = await AskClusterAsync("{\"command\":\"listener-remove\",\"listener\":\"api\"}",
            asked => new Status.Failure(new CommandFailedException(asked, "only 1 of 3 nodes are reachable")));

        Assert.False(json.GetProperty("ok").GetBoolean());
        Assert.Equal("only 1 of 3 nodes are reachable", json.GetProperty("error").GetString());
    }

    [Fact]
    public async Task A_rolling_reload_that_stopped_is_answered_with_its_failure_and_what_each_node_did()
    {
        var (asked, json) = await AskClusterAsync("{\"command\":\"reload\",\"listener\":\"http\",\"cluster\":true}",
            _ => new ClusterListeners.RollingReloadReport("http", false,
            [
                new ClusterListeners.NodeReloadStep("akka.tcp://shardruntime@127.0.0.11:4053", "reloaded", [new Coordinator.ListenerGeneration("http", 2)], 0.5, null),
                new ClusterListeners.NodeReloadStep("akka.tcp://shardruntime@127.0.0.12:4053", "failed", [], null, "no listener named 'http'"),
            ], "node akka.tcp://shardruntime@127.0.0.12:4053 failed: no listener named 'http'"));

        Assert.Equal(new ClusterListeners.RollingReload("http"), asked);
        Assert.False(json.GetProperty("ok").GetBoolean());
        Assert.Equal("node akka.tcp://shardruntime@127.0.0.12:4053 failed: no listener named 'http'", json.GetProperty("error").GetString());
        var nodes = json.GetProperty("result").GetProperty("nodes");
        Assert.Equal("reloaded", nodes[0].GetProperty("outcome").GetString());
        Assert.Equal(2, nodes[0].GetProperty("generations")[0].GetProperty("generation").GetInt32());
        Assert.Equal("failed", nodes[1].GetProperty("outcome").GetString());
    }

    [Theory]
    [InlineData("{\"command\":\"status\",\"cluster\":true}", "status")]
    [InlineData("{\"command\":\"scale\",\"listener\":\"http\",\"shards\":2,\"cluster\":true}", "scale")]
    [InlineData("{\"command\":\"reload\",\"cluster\":true}", "reload")]
    [InlineData("{\"command\":\"listener-show\"}", "listener-show")]
    [InlineData("{\"command\":\"listener-remove\",\"listener\":\"api\"}", "listener-remove")]
    public async Task A_node_without_a_cluster_actor_answers_cluster_requests_with_the_reason(string request, string command)
    {
        var (_, coordinator, path) = Start();

        var json = await ControlTestClient.SendAsync(path, request + "\n").WaitAsync(Patience);

        Assert.False(json.GetProperty("ok").GetBoolean());
        var error = json.GetProperty("error").GetString();
        Assert.StartsWith($"'{command}' needs the cluster, and this node does not take part in one: a lone node", error);
        Assert.Contains("seed nodes and the cluster's TLS files", error);
        Assert.False(coordinator.HasMessages);
    }

    [Theory]
    [InlineData("{\"command\":\"scale\",\"listener\":\"http\",\"shards\":2,\"cluster\":true}", "scale", 300)]
    [InlineData("{\"command\":\"listener-set\",\"listener\":\"api\",\"shards\":2}", "listener-set", 300)]
    [InlineData("{\"command\":\"reload\",\"cluster\":true}", "reload", 400)]
    [InlineData("{\"command\":\"status\",\"cluster\":true}", "status", 500)]
    public async Task A_cluster_request_waits_for_its_own_answer_timeout(string request, string command, int milliseconds)
    {
        var cluster = CreateTestProbe("cluster");
        var (_, _, path) = Start(requestTimeout: TimeSpan.FromMilliseconds(500), cluster: cluster.Ref, adjust: s => s with
        {
            ClusterChangeAnswerTimeout = TimeSpan.FromMilliseconds(300),
            ReloadAnswerTimeout = TimeSpan.FromMilliseconds(400),
        });

        var reply = ControlTestClient.SendAsync(path, request + "\n");
        cluster.ExpectMsg<ClusterListeners.ICommand>(Patience);
        var json = await reply.WaitAsync(Patience);

        Assert.False(json.GetProperty("ok").GetBoolean());
        Assert.Equal($"the node did not answer '{command}' within {milliseconds}ms", json.GetProperty("error").GetString());
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

        var second = Sys.ActorOf(ControlProtocol.Props(new ControlSettings(true, path, 1024, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(2)), CreateTestProbe().Ref));
        second.Tell(ControlProtocol.WaitUntilBound.Instance, TestActor);
        var failed = ExpectMsg<ControlProtocol.BindFailed>(Patience);
        Assert.Equal($"another node (pid {Environment.ProcessId}) already serves {path}", failed.Reason);

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

        var server = Sys.ActorOf(ControlProtocol.Props(new ControlSettings(true, SocketPath, 1024, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(2)), CreateTestProbe().Ref));
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
