using System.Text;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using ShardRuntime.Actors.Handlers;
using ShardRuntime.Actors.Hosting;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Actors.Tests.Support;
using Xunit.Abstractions;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Tests.Connection;

/// <summary>Async-style handlers are registered as span ones are: in code, and from a handler assembly, with generations.</summary>
public sealed class StreamHandlerRegistrationSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    private readonly SpecialFiles.TempDirectory _files = new("sr-stream-handlers-");

    [Theory]
    [InlineData("SampleHandlers.ShoutStreamFactory", "shout-async")]
    [InlineData("SampleHandlers.ShoutStreamHandler", "SampleHandlers.ShoutStreamHandler")]
    public async Task A_handler_assembly_must_serve_an_async_factory_or_handler_type_and_a_reload_must_drain_it(string type, string name)
    {
        var assembly = _files.CopySampleHandlers();
        var coordinator = Specs.StartCoordinator(Sys, Specs.Settings(
            $$"""a { endpoint = "127.0.0.1:0", handler-assembly = "{{assembly}}", handler-type = "{{type}}", shards = 1, drain-timeout = 30s }"""));
        using var client = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "a"));
        Assert.Equal("g1\n"u8.ToArray(), await Clients.ReceiveExactlyAsync(client, 3));
        await Clients.SendAsync(client, "hey");
        Assert.Equal("HEY"u8.ToArray(), await Clients.ReceiveExactlyAsync(client, 3));
        var listener = Specs.Listener(coordinator, "a");
        Assert.Equal(name, listener.Handler);
        Assert.Equal("async", listener.Style);

        // A reload: the open connection stays on generation 1 (counted there), a new one gets generation 2.
        await coordinator.Ask<CoordinatorProtocol.Reloaded>(new CoordinatorProtocol.Reload("a"), Clients.Timeout);
        using var next = await Clients.ConnectAsync(Specs.EndPoint(coordinator, "a"));
        Assert.Equal("g2\n"u8.ToArray(), await Clients.ReceiveExactlyAsync(next, 3));
        var generations = Specs.Listener(coordinator, "a").Generations;
        Assert.Equal([(2, 1), (1, 1)], generations.Select(g => (g.Generation, g.OpenConnections)));

        // The old generation's connection ends; its generation goes with it.
        client.Shutdown(System.Net.Sockets.SocketShutdown.Send);
        Assert.Equal("", await Clients.ReceiveToEndAsync(client));
        await AwaitAssertAsync(() => Assert.Equal([2], Specs.Listener(coordinator, "a").Generations.Select(g => g.Generation)), Clients.Timeout);
    }

    [Fact]
    public void Hosting_options_must_register_an_async_handler_and_set_io()
    {
        var options = new ShardRuntimeOptions().AddHandler(new ScriptedStreamFactory())
            .AddListener("s", l =>
            {
                l.EndPoint = "127.0.0.1:0";
                l.Handler = "scripted";
                l.Io = ConnectionIo.Stream;
            });
        Assert.Equal("scripted", options.StreamHandlers.Single().Name);
        var settings = ShardRuntimeSettings.Create(options.ToConfig().WithFallback(ReferenceConfig.Default));
        Assert.Equal(ConnectionIo.Stream, settings.Listeners.Single().Io);
        var catalog = HandlerCatalog.WithBuiltIns().Add(options.StreamHandlers.Single());
        Assert.Null(catalog.HandlerRefusal(settings.Listeners.Single()));
        Assert.Contains("echo-async", catalog.Names);
    }

    [Fact]
    public void A_bad_io_must_be_refused_naming_the_key()
    {
        var error = Assert.Throws<ShardRuntimeConfigurationException>(() =>
            Specs.Settings("""a { endpoint = "127.0.0.1:0", io = threads }"""));
        Assert.Contains("shard-runtime.listeners.a.io", error.Message);
        Assert.Contains("loop, stream", error.Message);
        var udp = Assert.Throws<ShardRuntimeConfigurationException>(() =>
            Specs.Settings("""u { endpoint = "127.0.0.1:0", protocol = udp, handler = udp-echo, io = stream }"""));
        Assert.Contains("shard-runtime.listeners.u.io", udp.Message);
    }
}
