using ShardRuntime.Runtime.Handlers;

namespace ShardRuntime.Runtime.Tests.Handlers;

public sealed class BuiltInHandlersTests
{
    [Fact]
    public void Built_in_handlers_must_list_echo_and_http_ok()
    {
        Assert.Equal(["echo", "http-ok"], BuiltInHandlers.Names);
    }

    [Theory]
    [InlineData("http-ok", typeof(HttpOkHandlerFactory), typeof(HttpOkHandler))]
    [InlineData("echo", typeof(EchoHandlerFactory), typeof(EchoHandler))]
    public void Built_in_handlers_must_find_each_factory_by_its_name(string name, Type factoryType, Type handlerType)
    {
        Assert.True(BuiltInHandlers.TryGet(name, out var found));
        var factory = BuiltInHandlers.Get(name);

        Assert.Same(found, factory);
        Assert.IsType(factoryType, factory);
        Assert.Equal(name, factory.Name);
        Assert.IsType(handlerType, factory.Create(new FakeConnectionContext(16)));
    }

    [Theory]
    [InlineData("nope")]
    [InlineData("HTTP-OK")]
    [InlineData("")]
    public void Built_in_handlers_must_refuse_an_unknown_name_and_list_the_known_ones(string name)
    {
        Assert.False(BuiltInHandlers.TryGet(name, out _));

        var error = Assert.Throws<ArgumentException>(() => BuiltInHandlers.Get(name));

        Assert.Equal("name", error.ParamName);
        Assert.Contains($"'{name}'", error.Message);
        Assert.Contains("echo, http-ok", error.Message);
    }
}
