using ShardRuntime.Actors.Coordination;
using System.Diagnostics;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using ShardRuntime.Actors.Handlers;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Actors.Tests.Support;
using Xunit.Abstractions;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Tests.Coordinator;

/// <summary>
/// Handler assemblies an operator names are loaded off the coordinator, with a deadline, and only from regular files of
/// a bounded size: a FIFO, /dev/zero, a directory or a huge file is refused at once naming it and what it is, and the
/// coordinator answers status and scale while a slow load runs.
/// </summary>
public sealed class HandlerLoadingSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    private const string Echo = "e { endpoint = \"127.0.0.1:0\", handler = echo, shards = 1 }";

    private readonly SpecialFiles.TempDirectory _files = new("sr-handler-loading-");

    /// <summary>A coordinator serving <see cref="Echo"/>; a reload of every listener reads <paramref name="reloadTo"/> (HOCON listeners).</summary>
    private IActorRef Start(Func<string> reloadTo, string extra = "")
    {
        var settings = Specs.Settings(Echo, extra);
        var coordinator = Sys.ActorOf(CoordinatorProtocol.Props(settings, HandlerCatalog.WithBuiltIns(),
            readListeners: () => Specs.Settings(reloadTo(), extra).Listeners));
        Assert.IsType<CoordinatorProtocol.Started>(coordinator.Ask<object>(CoordinatorProtocol.WaitUntilStarted.Instance, Clients.Timeout).GetAwaiter().GetResult());
        return coordinator;
    }

    private static string WithAssembly(string path, string type = "SampleHandlers.GreetingFactory") =>
        $"{Echo}\nx {{ endpoint = \"127.0.0.1:0\", handler-assembly = \"{path}\", handler-type = \"{type}\", shards = 1 }}";

    /// <summary>Reloads every listener; the refusal must come within <paramref name="within"/>, and nothing may change.</summary>
    private static async Task<string> RefusedReloadAsync(IActorRef coordinator, TimeSpan within)
    {
        var stopwatch = Stopwatch.StartNew();
        var failed = await Assert.ThrowsAsync<CommandFailedException>(() => coordinator.Ask<CoordinatorProtocol.Reloaded>(new CoordinatorProtocol.Reload(null), Clients.Timeout));
        Assert.True(stopwatch.Elapsed < within, $"the refusal took {stopwatch.Elapsed}: {failed.Reason}");
        Assert.Equal(["e"], Specs.Status(coordinator).Listeners.Select(l => l.Name));
        return failed.Reason;
    }

    [Fact]
    public async Task A_reload_giving_a_tcp_listener_a_datagram_handler_type_must_be_refused_naming_handler_type_and_both_kinds()
    {
        var assembly = _files.CopySampleHandlers();
        var coordinator = Start(() => WithAssembly(assembly, "SampleHandlers.ShoutDatagramFactory"));

        var reason = await RefusedReloadAsync(coordinator, TimeSpan.FromSeconds(30));

        Assert.Contains("shard-runtime.listeners.x.handler-type: handler 'SampleHandlers.ShoutDatagramFactory' is a datagram handler (udp), " +
                        "but listener 'x' has protocol = tcp, which takes a connection handler (tcp)", reason);
    }

    [Fact]
    public async Task A_udp_listener_must_serve_a_datagram_handler_type_from_a_user_assembly()
    {
        var assembly = _files.CopySampleHandlers();
        var coordinator = Start(() => $"{Echo}\nu {{ endpoint = \"127.0.0.1:0\", protocol = udp, handler-assembly = \"{assembly}\", handler-type = \"SampleHandlers.ShoutDatagramHandler\", shards = 1 }}");

        Assert.IsType<CoordinatorProtocol.Reloaded>(await coordinator.Ask<object>(new CoordinatorProtocol.Reload(null), Clients.Timeout));

        using var client = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        var target = Specs.EndPoint(coordinator, "u");
        await client.SendToAsync("hey"u8.ToArray(), target);
        var buffer = new byte[64];
        using var timeout = new CancellationTokenSource(Clients.Timeout);
        var received = await client.ReceiveFromAsync(buffer, new System.Net.IPEndPoint(System.Net.IPAddress.Any, 0), timeout.Token);
        Assert.Equal("v1:hey", System.Text.Encoding.ASCII.GetString(buffer, 0, received.ReceivedBytes));
        Assert.Equal("udp", Specs.Listener(coordinator, "u").Protocol);
    }

    [Fact]
    public async Task A_reload_naming_a_FIFO_as_handler_assembly_must_be_refused_at_once_naming_it()
    {
        var fifo = SpecialFiles.Fifo(Path.Combine(_files.Path, "handler.dll"));
        var coordinator = Start(() => WithAssembly(fifo));

        var reason = await RefusedReloadAsync(coordinator, TimeSpan.FromSeconds(5));

        Assert.Contains($"'{fifo}' is a FIFO, not a regular file", reason);
        Assert.Contains("listener 'x'", reason);
    }

    [Fact]
    public async Task A_reload_naming_dev_zero_as_handler_assembly_must_be_refused_at_once_without_reading_it()
    {
        var coordinator = Start(() => WithAssembly("/dev/zero"));
        var memoryBefore = Process.GetCurrentProcess().WorkingSet64;

        var reason = await RefusedReloadAsync(coordinator, TimeSpan.FromSeconds(5));

        Assert.Contains("'/dev/zero' is a character device, not a regular file", reason);
        Assert.True(Process.GetCurrentProcess().WorkingSet64 - memoryBefore < 256L * 1024 * 1024, "reading /dev/zero filled the memory");
    }

    [Fact]
    public async Task A_reload_naming_a_directory_as_handler_assembly_must_be_refused_saying_it_is_one()
    {
        var directory = Directory.CreateDirectory(Path.Combine(_files.Path, "handler.dll")).FullName;
        var coordinator = Start(() => WithAssembly(directory));

        var reason = await RefusedReloadAsync(coordinator, TimeSpan.FromSeconds(5));

        Assert.Contains($"'{directory}' is a directory, not a regular file", reason);
    }

    [Fact]
    public async Task A_reload_naming_a_handler_assembly_bigger_than_64_MiB_must_be_refused_with_its_size_without_reading_it()
    {
        var huge = SpecialFiles.Sparse(Path.Combine(_files.Path, "handler.dll"), 4L * 1024 * 1024 * 1024);
        var coordinator = Start(() => WithAssembly(huge));

        var reason = await RefusedReloadAsync(coordinator, TimeSpan.FromSeconds(5));

        Assert.Contains($"'{huge}' is 4.0 GiB, more than the 64 MiB a handler assembly may have", reason);
    }

    [Fact]
    public async Task While_a_handler_loads_the_coordinator_must_answer_status_and_scale_and_refuse_the_load_at_its_deadline()
    {
        var assembly = _files.CopySampleHandlers();
        var gate = Path.Combine(_files.Path, "release");
        AppContext.SetData("SampleHandlers.GatedInitializeFactory.Gate", gate);
        var coordinator = Start(() => WithAssembly(assembly, "SampleHandlers.GatedInitializeFactory"), "handler-load-timeout = 8s");
        try
        {
            var reload = coordinator.Ask<object>(new CoordinatorProtocol.Reload(null), Clients.Timeout);

            // The load waits at its gate (until the deadline, 8s); the coordinator answers meanwhile, promptly (it used to wait with the load).
            var statusAsked = Stopwatch.StartNew();
            Assert.Equal(["e"], (await coordinator.Ask<CoordinatorProtocol.NodeStatus>(CoordinatorProtocol.GetStatus.Instance, TimeSpan.FromSeconds(4))).Listeners.Select(l => l.Name));
            var scaled = await coordinator.Ask<CoordinatorProtocol.ScaledTo>(new CoordinatorProtocol.ScaleTo("e", 2), TimeSpan.FromSeconds(4));
            Assert.Equal(2, scaled.Shards);
            Assert.True(statusAsked.Elapsed < TimeSpan.FromSeconds(6), $"status and scale took {statusAsked.Elapsed}");
            Assert.False(reload.IsCompleted, "the reload was answered before its load finished or missed its deadline");

            var failed = await Assert.ThrowsAsync<CommandFailedException>(() => reload);
            Assert.Contains("listener 'x'", failed.Reason);
            Assert.Contains("did not finish within 8s (shard-runtime.handler-load-timeout)", failed.Reason);
            var status = Specs.Status(coordinator);
            Assert.Equal(["e"], status.Listeners.Select(l => l.Name));
            using var client = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "e"));
            await Clients.SendAsync(client, "still");
            Assert.Equal("still", System.Text.Encoding.ASCII.GetString(await Clients.ReceiveExactlyAsync(client, 5)));
        }
        finally
        {
            File.WriteAllText(gate, ""); // the abandoned load ends and is unloaded
        }
    }

    [Fact]
    public async Task A_coordinator_that_crashes_while_it_starts_its_listeners_must_restart_load_again_and_finish_its_start()
    {
        // The handler code loads off the coordinator; the bind that follows throws (once): the coordinator restarts in
        // the middle of its start. It used to carry on as if started, answering Started with no listener bound.
        var sockets = new CrashOnceSocketFactory();
        var settings = Specs.Settings(WithAssembly(_files.CopySampleHandlers()));
        var coordinator = Sys.ActorOf(CoordinatorProtocol.Props(settings, HandlerCatalog.WithBuiltIns(), sockets));

        var started = await coordinator.Ask<object>(CoordinatorProtocol.WaitUntilStarted.Instance, Clients.Timeout);

        Assert.IsType<CoordinatorProtocol.Started>(started);
        Assert.Equal(1, sockets.Crashes);
        var status = Specs.Status(coordinator);
        Assert.Equal(["e", "x"], status.Listeners.Select(l => l.Name));
        Assert.All(status.Listeners, l => Assert.Equal("accepting", Assert.Single(l.Shards).State));
        using var client = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "e"));
        await Clients.SendAsync(client, "up");
        Assert.Equal("up", System.Text.Encoding.ASCII.GetString(await Clients.ReceiveExactlyAsync(client, 2)));
    }

    /// <summary>Binds real reuseport sockets, except that its first bind throws an error no bind should: the coordinator crashes on it.</summary>
    private sealed class CrashOnceSocketFactory : ShardRuntime.Runtime.Sockets.IListenerSocketFactory
    {
        private int _calls;

        public int Crashes => Math.Min(Volatile.Read(ref _calls), 1);

        public System.Net.Sockets.Socket Bind(ShardRuntime.Runtime.Sockets.ListenerSocketOptions options) =>
            Interlocked.Increment(ref _calls) == 1
                ? throw new InvalidOperationException("injected: the first bind of this node fails unexpectedly")
                : ShardRuntime.Runtime.Sockets.ReuseportSocketFactory.Instance.Bind(options);
    }

    [Fact]
    public async Task A_start_up_naming_a_FIFO_as_handler_assembly_must_fail_at_once_naming_it()
    {
        var fifo = SpecialFiles.Fifo(Path.Combine(_files.Path, "handler.dll"));
        var settings = Specs.Settings(WithAssembly(fifo));
        var coordinator = Sys.ActorOf(CoordinatorProtocol.Props(settings, HandlerCatalog.WithBuiltIns()));

        var failed = await Assert.ThrowsAsync<CommandFailedException>(() =>
            coordinator.Ask<CoordinatorProtocol.Started>(CoordinatorProtocol.WaitUntilStarted.Instance, TimeSpan.FromSeconds(10)));
        Assert.Contains($"'{fifo}' is a FIFO, not a regular file", failed.Reason);
        Assert.Empty(Specs.Status(coordinator).Listeners);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) _files.Dispose();
    }
}
