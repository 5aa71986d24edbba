using ShardRuntime.Runtime.Handlers;

namespace ShardRuntime.Runtime.Tests.Handlers;

public sealed class EchoHandlerTests
{
    [Fact]
    public void Echo_must_write_back_identical_bytes_and_consume_everything()
    {
        var driver = new HandlerDriver(new EchoHandler());
        var sent = new byte[10_000];
        new Random(42).NextBytes(sent);

        driver.Receive(sent.AsSpan(0, 1));
        driver.Receive(sent.AsSpan(1, 4_999));
        driver.Receive(sent.AsSpan(5_000));

        Assert.Equal(sent, driver.Context.Written.ToArray());
        Assert.Equal(0, driver.Unconsumed);
        Assert.False(driver.Context.IsClosing);
    }

    [Fact]
    public void Echo_must_close_gracefully_on_half_close_after_its_writes()
    {
        var driver = new HandlerDriver(new EchoHandler());

        driver.Receive("last words"u8);
        driver.EndInput();

        Assert.Equal("last words"u8.ToArray(), driver.Context.Written.ToArray());
        Assert.Equal(1, driver.Context.CloseCount);
        Assert.Equal(0, driver.Context.AbortCount);
    }

    [Fact]
    public void Echo_must_consume_an_empty_read_without_writing()
    {
        var context = new FakeConnectionContext();

        Assert.Equal(0, new EchoHandler().OnReceived(context, default));
        Assert.Equal(0, context.WriteCount);
    }
}
