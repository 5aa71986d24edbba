using Xunit.Abstractions;
using static ShardRuntime.Runtime.Tests.Steering.RetirementScenario;

namespace ShardRuntime.Runtime.Tests.Steering;

public sealed class ZeroLossRetirementTests(ITestOutputHelper output)
{
    private const int Connections = 2000;

    [Theory]
    [InlineData(3)]
    [InlineData(1)]
    public async Task Retiring_a_listener_by_steering_draining_and_closing_must_reset_no_connection(int position)
    {
        var outcome = await new RetirementScenario(f => f()).RunAsync(Retirement.SteerDrainClose, position, Connections, output);
        Assert.True(outcome.QueuedAtRetirement >= QueuedBeforeRetirement);
        Assert.True(outcome.Drain!.Drained, outcome.ToString());
        Assert.True(outcome.Drain.Accepted >= outcome.QueuedAtRetirement, outcome.ToString());
        Assert.True(outcome.StartedAfterRetirement > 0, "the client must still be connecting when the listener closes: " + outcome);
        Assert.True(outcome.Lost == 0, outcome.ToString());
        Assert.Equal(Connections, outcome.Echoed);
    }

    [Fact]
    public async Task Control_retiring_a_listener_by_close_alone_must_reset_the_connections_in_its_queue()
    {
        // Shows the scenario can lose connections at all; the number is printed, not asserted.
        var outcome = await new RetirementScenario(f => f()).RunAsync(Retirement.PlainClose, 3, Connections, output);
        Assert.True(outcome.Reset > 0, outcome.ToString());
    }
}
