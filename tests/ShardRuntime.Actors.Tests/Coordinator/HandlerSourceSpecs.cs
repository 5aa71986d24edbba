using Akka.TestKit.Xunit2;
using ShardRuntime.Actors.Handlers;
using ShardRuntime.Actors.Tests.Support;
using Xunit.Abstractions;

namespace ShardRuntime.Actors.Tests.Coordinator;

/// <summary><c>status</c> says where each listener's handler code came from: only ShardRuntime's own handlers are built-in.</summary>
public sealed class HandlerSourceSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    [Fact]
    public void A_handler_registered_by_code_must_show_its_factory_type_and_assembly_and_a_built_in_must_say_built_in()
    {
        var coordinator = Specs.StartCoordinator(Sys,
            Specs.Settings("mine { endpoint = \"127.0.0.1:0\", handler = generation-echo }\nours { endpoint = \"127.0.0.1:0\", handler = echo }"),
            HandlerCatalog.WithBuiltIns().Add(new GenerationEchoFactory()));

        var status = Specs.Status(coordinator);

        Assert.Equal("ShardRuntime.Actors.Tests.Support.GenerationEchoFactory (ShardRuntime.Actors.Tests)",
            status.Listeners.Single(l => l.Name == "mine").Generations.Single().Source);
        Assert.Equal("built-in", status.Listeners.Single(l => l.Name == "ours").Generations.Single().Source);
    }
}
