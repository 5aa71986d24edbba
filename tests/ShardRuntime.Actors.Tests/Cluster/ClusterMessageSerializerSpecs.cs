using System.Collections.Immutable;
using System.Runtime.Serialization;
using System.Text.Json;
using Akka.DistributedData;
using Akka.Serialization;
using ShardRuntime.Actors.Cluster;
using ShardRuntime.Actors.Tests.Support;
using Xunit.Abstractions;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Tests.Cluster;

/// <summary>
/// The messages that cross between nodes, through the serialization of an actor system with the cluster provider and
/// nothing but reference.conf's binding: what a remote node would read.
/// </summary>
public sealed class ClusterMessageSerializerSpecs : Akka.TestKit.Xunit2.TestKit
{
    private readonly ITestOutputHelper _output;

    public ClusterMessageSerializerSpecs(ITestOutputHelper output) : base(ClusterSystem.Config(), output: output) => _output = output;

    private static ClusterListener SampleListener() => ClusterListener.New("api") with
    {
        Shards = 3,
        // Ordinal order puts "Zeta" before "edge"; a culture-aware comparer would not.
        ShardsByRole = ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create("edge", 6), KeyValuePair.Create("Zeta", 2)]),
        Roles = ImmutableSortedSet.Create(StringComparer.Ordinal, "edge", "Zeta"),
        HandlerGeneration = 7,
        Definition = "endpoint = \"0.0.0.0:9000\"\nhandler = echo",
        Removed = false,
        ChangedBy = "akka.tcp://shardruntime@127.0.0.11:4053",
        ChangedAt = new DateTimeOffset(2026, 11, 28, 23, 59, 58, 123, TimeSpan.Zero),
    };

    private static CoordinatorProtocol.NodeStatus SampleStatus() => new(
        ProcessId: 4242,
        StartedAt: new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.FromHours(1)),
        Draining: false,
        Listeners:
        [
            new CoordinatorProtocol.ListenerStatus("http", "127.0.0.1:8080/tcp", "tcp", "http-ok", 2, 1000, 42, 3, 2,
                [
                    new CoordinatorProtocol.GenerationStatus(2, "Sample.Handler", true, 2, "/opt/handlers/sample.dll", "ab12"),
                    new CoordinatorProtocol.GenerationStatus(1, "Sample.Handler", false, 1, "/opt/handlers/sample.dll", "cd34"),
                ],
                "listener 'http': the assembly could not be loaded (generation 2 keeps serving)",
                [
                    new CoordinatorProtocol.ShardStatus(0, "accepting", 987654, 40, 2, 100, 200),
                    new CoordinatorProtocol.ShardStatus(1, "retiring", 987655, 2, 1, 10, long.MaxValue),
                ]),
        ],
        ProcessGeneration: 3,
        Upgrade: new CoordinatorProtocol.UpgradeStatus(4343, "waiting for the successor to connect", new DateTimeOffset(2026, 1, 2, 3, 5, 0, TimeSpan.Zero)),
        LastUpgradeFailure: "the successor exited with code 1",
        LetGo: false);

    /// <summary>Serializes <paramref name="message"/> as the actor system would for a remote node and reads it back by serializer id and manifest.</summary>
    private object RoundTrip(object message)
    {
        var serializer = Sys.Serialization.FindSerializerFor(message);
        Assert.IsType<ClusterMessageSerializer>(serializer);
        var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, message);
        var bytes = serializer.ToBinary(message);
        _output.WriteLine($"{message.GetType().Name} -> '{manifest}', {bytes.Length} bytes");
        return Sys.Serialization.Deserialize(bytes, serializer.Identifier, manifest);
    }

    /// <summary>Every member, compared by value (the records hold lists, which compare by reference).</summary>
    private static void AssertSameValue(object expected, object actual)
    {
        Assert.IsType(expected.GetType(), actual);
        Assert.Equal(JsonSerializer.Serialize(expected, expected.GetType()), JsonSerializer.Serialize(actual, actual.GetType()));
    }

    [Fact]
    public void Reference_conf_must_bind_every_cluster_message_to_the_ShardRuntime_serializer()
    {
        Assert.IsType<ClusterMessageSerializer>(Sys.Serialization.FindSerializerForType(typeof(ClusterListener)));
        Assert.IsType<ClusterMessageSerializer>(Sys.Serialization.FindSerializerForType(typeof(ClusterListeners.NodeStatusReply)));
        Assert.IsType<ClusterMessageSerializer>(Sys.Serialization.FindSerializerForType(typeof(ClusterListeners.ReloadNode)));
        Assert.Equal(5407, Sys.Serialization.FindSerializerForType(typeof(ClusterListener)).Identifier);
    }

    [Fact]
    public void A_listener_must_come_back_with_every_value_and_its_collections_in_ordinal_order()
    {
        var listener = SampleListener();

        var back = Assert.IsType<ClusterListener>(RoundTrip(listener));

        AssertSameValue(listener, back);
        Assert.Equal(["Zeta", "edge"], back.Roles);
        Assert.Equal(["Zeta", "edge"], back.ShardsByRole.Keys);
        Assert.Equal(6, back.ShardsByRole["edge"]);
        Assert.Equal(listener.ChangedAt, back.ChangedAt);
        Assert.Equal(listener.Describe(), back.Describe());
        // The collections still work as the cluster actor changes them.
        Assert.Equal(["Zeta", "edge", "ingest"], back.ShardsByRole.SetItem("ingest", 1).Keys);
    }

    [Fact]
    public void A_new_listener_with_nothing_set_must_come_back_as_it_was()
    {
        var listener = ClusterListener.New("api") with { Removed = true };

        var back = Assert.IsType<ClusterListener>(RoundTrip(listener));

        AssertSameValue(listener, back);
        Assert.Null(back.Shards);
        Assert.Null(back.Definition);
        Assert.True(back.Removed);
    }

    [Fact]
    public void A_node_status_reply_must_come_back_with_the_whole_node_status()
    {
        var reply = new ClusterListeners.NodeStatusReply(SampleStatus(), "not following the desired state: the node is draining for shutdown");

        var back = Assert.IsType<ClusterListeners.NodeStatusReply>(RoundTrip(reply));

        AssertSameValue(reply, back);
        var http = Assert.Single(back.Node.Listeners);
        Assert.Equal([2, 1], http.Generations.Select(g => g.Generation));
        Assert.Equal(long.MaxValue, http.Shards[1].BytesSent);
        Assert.Equal(4343, back.Node.Upgrade?.SuccessorProcessId);
        Assert.Equal(TimeSpan.FromHours(1), back.Node.StartedAt.Offset);
    }

    [Fact]
    public void Asking_for_a_node_status_must_come_back_as_the_one_instance()
    {
        Assert.Same(ClusterListeners.GetNodeStatus.Instance, RoundTrip(ClusterListeners.GetNodeStatus.Instance));
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("api", 8)]
    public void A_reload_request_must_come_back_as_it_was(string? listener, int? generation)
    {
        var reload = new ClusterListeners.ReloadNode(listener, generation);

        Assert.Equal(reload, RoundTrip(reload));
    }

    [Fact]
    public void The_answers_to_a_reload_request_must_come_back_as_they_were()
    {
        var reloaded = new ClusterListeners.NodeReloaded([new("api", 3), new("http", 9)], 1.25);
        var failed = new ClusterListeners.NodeReloadFailed("the old handler generations still had open connections after 00:02:00", [new("api", 3)]);

        AssertSameValue(reloaded, RoundTrip(reloaded));
        AssertSameValue(failed, RoundTrip(failed));
    }

    [Fact]
    public void The_replicated_desired_state_must_round_trip_through_distributed_data_with_its_listeners()
    {
        var cluster = Akka.Cluster.Cluster.Get(Sys);
        DistributedData.Get(Sys); // loads Akka.DistributedData's serializers, as the cluster actor does
        var listener = SampleListener();
        var state = LWWDictionary<string, ClusterListener>.Empty.SetItem(cluster, "api", listener);

        var serializer = Sys.Serialization.FindSerializerFor(state);
        Assert.IsType<Akka.DistributedData.Serialization.ReplicatedDataSerializer>(serializer);
        var bytes = serializer.ToBinary(state);
        var back = (LWWDictionary<string, ClusterListener>)Sys.Serialization.Deserialize(
            bytes, serializer.Identifier, Akka.Serialization.Serialization.ManifestFor(serializer, state));

        AssertSameValue(listener, back["api"]);
    }

    [Fact]
    public void An_unknown_manifest_must_fail_naming_it_and_the_known_ones()
    {
        var serializer = (ClusterMessageSerializer)Sys.Serialization.FindSerializerForType(typeof(ClusterListener));

        var e = Assert.Throws<SerializationException>(() => serializer.FromBinary("{}"u8.ToArray(), "listener-v9"));

        Assert.Contains("'listener-v9'", e.Message);
        Assert.Contains("listener, get-node-status, node-status, reload-node, node-reloaded, node-reload-failed", e.Message);
    }

    [Fact]
    public void A_message_that_is_not_a_cluster_message_must_have_no_manifest()
    {
        var serializer = (ClusterMessageSerializer)Sys.Serialization.FindSerializerForType(typeof(ClusterListener));

        var e = Assert.Throws<ArgumentException>(() => serializer.Manifest(CoordinatorProtocol.GetStatus.Instance));

        Assert.Contains(typeof(CoordinatorProtocol.GetStatus).FullName!, e.Message);
    }
}
