using Akka.Actor;
using Akka.TestKit.Xunit2;
using ShardRuntime.Actors.Coordination;
using ShardRuntime.Actors.Tests.Support;
using Xunit.Abstractions;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Tests.Coordinator;

/// <summary>
/// The coordinator's replies fit <c>Ask&lt;T&gt;</c>: a typed success, or <c>Status.Failure</c> with a
/// <see cref="CommandFailedException"/> that Ask throws, naming the command and what was wrong.
/// </summary>
public sealed class TypedReplySpecs(ITestOutputHelper output) : TestKit(output: output)
{
    private IActorRef Start() =>
        Specs.StartCoordinator(Sys, Specs.Settings("web { endpoint = \"127.0.0.1:0\", handler = echo, shards = 1 }"));

    [Fact]
    public async Task Ask_of_scale_reload_and_status_must_return_the_typed_replies()
    {
        var coordinator = Start();

        var scaled = await coordinator.Ask<CoordinatorProtocol.ScaledTo>(new CoordinatorProtocol.ScaleTo("web", 3), Clients.Timeout);
        var reloaded = await coordinator.Ask<CoordinatorProtocol.Reloaded>(new CoordinatorProtocol.Reload("web"), Clients.Timeout);
        var status = await coordinator.Ask<CoordinatorProtocol.NodeStatus>(CoordinatorProtocol.GetStatus.Instance, Clients.Timeout);

        Assert.Equal(new CoordinatorProtocol.ScaledTo("web", 3, 0), scaled);
        Assert.Equal([new CoordinatorProtocol.ListenerGeneration("web", 2)], reloaded.Listeners);
        Assert.Equal(3, status.Listeners.Single().Shards.Count(s => s.IsServing));
    }

    [Fact]
    public async Task A_refused_scale_must_throw_from_Ask_an_exception_that_names_what_was_wrong()
    {
        var coordinator = Start();
        var scale = new CoordinatorProtocol.ScaleTo("nope", 2);

        var e = await Assert.ThrowsAsync<CommandFailedException>(() => coordinator.Ask<CoordinatorProtocol.ScaledTo>(scale, Clients.Timeout));

        Assert.Same(scale, e.Command);
        Assert.Contains("'nope'", e.Reason);
        Assert.StartsWith("ScaleTo failed: ", e.Message);
        Assert.Contains(e.Reason, e.Message);
        Assert.False(e.InvalidConfiguration);
    }

    [Fact]
    public async Task A_refused_reload_must_throw_from_Ask_and_reach_a_probe_as_Status_Failure()
    {
        var coordinator = Start();

        var e = await Assert.ThrowsAsync<CommandFailedException>(() => coordinator.Ask<CoordinatorProtocol.Reloaded>(new CoordinatorProtocol.Reload("nope"), Clients.Timeout));
        Assert.Equal("no listener named 'nope' (listeners: web)", e.Reason);

        coordinator.Tell(new CoordinatorProtocol.ScaleTo("web", -1), TestActor);
        var failure = ExpectMsg<Status.Failure>(Clients.Timeout);
        Assert.Contains("-1", Assert.IsType<CommandFailedException>(failure.Cause).Reason);
    }

    [Fact]
    public async Task Ask_of_object_must_also_throw_the_refusal()
    {
        var coordinator = Start();
        var answer = await Record.ExceptionAsync(() => coordinator.Ask<object>(new CoordinatorProtocol.ScaleTo("nope", 2), Clients.Timeout));
        Assert.IsType<CommandFailedException>(answer);
    }
}
