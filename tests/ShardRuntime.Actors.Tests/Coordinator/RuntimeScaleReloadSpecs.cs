using Akka.Actor;
using Akka.TestKit.Xunit2;
using ShardRuntime.Actors.Coordination;
using ShardRuntime.Actors.Handlers;
using ShardRuntime.Actors.Tests.Support;
using Xunit.Abstractions;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Tests.Coordinator;

/// <summary>
/// A reload of the configuration file undoes only what the file was changed to undo: a listener scaled at runtime keeps
/// its shard count unless the file's count for it changed since the node last read it.
/// </summary>
public sealed class RuntimeScaleReloadSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    private static string Listeners(int httpShards, int echoShards) =>
        $$"""
          http { endpoint = "127.0.0.1:0", handler = http-ok, shards = {{httpShards}} }
          e { endpoint = "127.0.0.1:0", handler = echo, shards = {{echoShards}} }
          """;

    [Fact]
    public async Task A_runtime_scale_must_survive_a_reload_of_an_unchanged_file_and_yield_to_a_changed_count()
    {
        var file = Listeners(httpShards: 2, echoShards: 1);
        var coordinator = Sys.ActorOf(CoordinatorProtocol.Props(Specs.Settings(file), HandlerCatalog.WithBuiltIns(),
            readListeners: () => Specs.Settings(file).Listeners));
        Assert.IsType<CoordinatorProtocol.Started>(await coordinator.Ask<object>(CoordinatorProtocol.WaitUntilStarted.Instance, Clients.Timeout));

        Assert.Null(Specs.Listener(coordinator, "http").ConfiguredShards); // no runtime override yet
        await coordinator.Ask<CoordinatorProtocol.ScaledTo>(new CoordinatorProtocol.ScaleTo("http", 3), Clients.Timeout);
        await ReloadAsync(coordinator);
        Assert.Equal(3, Specs.Listener(coordinator, "http").DesiredShards); // the file still says 2, as when last read
        Assert.Equal(2, Specs.Listener(coordinator, "http").ConfiguredShards); // status shows the override and the file's value
        Assert.Equal(1, Specs.Listener(coordinator, "e").DesiredShards);
        Assert.Null(Specs.Listener(coordinator, "e").ConfiguredShards);

        file = Listeners(httpShards: 2, echoShards: 2); // another listener's count changes: the scale of http stays
        await ReloadAsync(coordinator);
        Assert.Equal(3, Specs.Listener(coordinator, "http").DesiredShards);
        Assert.Equal(2, Specs.Listener(coordinator, "e").DesiredShards);

        file = Listeners(httpShards: 1, echoShards: 2); // the file's count for http changed: the file wins
        await ReloadAsync(coordinator);
        Assert.Equal(1, Specs.Listener(coordinator, "http").DesiredShards);
        Assert.Null(Specs.Listener(coordinator, "http").ConfiguredShards);
    }

    [Fact]
    public void KeepRuntimeScale_must_keep_a_runtime_count_only_where_the_files_count_is_unchanged()
    {
        var before = Specs.Settings(Listeners(httpShards: 2, echoShards: 1)).Listeners;
        var scaled = before.Select(l => l.Name == "http" ? l with { Shards = 4 } : l).ToList();
        // Unchanged file: the runtime count stays.
        Assert.Equal([4, 1], Shards(ReloadChanges.KeepRuntimeScale(before, before, scaled)));
        // The file changed http's count: the file's count.
        Assert.Equal([5, 1], Shards(ReloadChanges.KeepRuntimeScale(Specs.Settings(Listeners(5, 1)).Listeners, before, scaled)));
        // A listener the node never read from the file (added by this reload) gets the file's count, whatever else says.
        var added = Specs.Settings(Listeners(2, 1) + "\nnew { endpoint = \"127.0.0.1:0\", handler = echo, shards = 2 }").Listeners;
        Assert.Equal([4, 1, 2], Shards(ReloadChanges.KeepRuntimeScale(added, before, scaled.Append(added[^1] with { Shards = 7 }).ToList())));
    }

    private static int[] Shards(IEnumerable<ShardRuntime.Actors.Settings.ListenerSettings> listeners) =>
        listeners.OrderBy(l => l.Name == "http" ? 0 : l.Name == "e" ? 1 : 2).Select(l => l.Shards).ToArray();

    private static async Task ReloadAsync(IActorRef coordinator) =>
        Assert.IsType<CoordinatorProtocol.Reloaded>(await coordinator.Ask<object>(new CoordinatorProtocol.Reload(null), Clients.Timeout));
}
