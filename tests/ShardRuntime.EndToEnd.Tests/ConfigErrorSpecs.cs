using ShardRuntime.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests;

/// <summary>A bad config (malformed, unknown keys, unknown handlers) stops start-up with exit code 2 and a message naming the file and the key.</summary>
public sealed class ConfigErrorSpecs(ITestOutputHelper output)
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData(
        """http { endpoint = "127.0.0.1:0", handler = http-ok, idle-timeout = banana }""",
        "shard-runtime.listeners.http.idle-timeout")]
    [InlineData(
        """http { handler = http-ok, shards = 2 }""",
        "shard-runtime.listeners.http.endpoint")]
    [InlineData(
        """http { endpoint = "not an endpoint", handler = http-ok }""",
        "shard-runtime.listeners.http.endpoint")]
    [InlineData(
        """http { endpoint = "127.0.0.1:0", handler = http-ok, shards = many }""",
        "shard-runtime.listeners.http.shards")]
    public async Task A_malformed_setting_must_stop_start_up_with_exit_code_2_naming_the_key_and_the_file(string listeners, string key)
    {
        await using var host = HostProcess.Start(output, HostProcess.Config(listeners));

        var exitCode = await host.WaitForExitAsync(ExitTimeout);

        Assert.True(exitCode == 2, $"exit code {exitCode}\n{host.Output}");
        Assert.Contains(key, host.Output);
        Assert.Contains(host.ConfigPath, host.Output);
        Assert.False(File.Exists(host.ControlSocket), "the node opened its control socket despite the bad config");
    }

    [Theory]
    [InlineData(
        """http { endpoint = "127.0.0.1:0", handler = http-ok, shard = 4 }""", "",
        "shard-runtime.listeners.http.shard", "did you mean 'shard-runtime.listeners.http.shards'?")]
    [InlineData(
        """http { endpoint = "127.0.0.1:0", handler = http-ok, max-conections = 4 }""", "",
        "shard-runtime.listeners.http.max-conections", "did you mean 'shard-runtime.listeners.http.max-connections'?")]
    [InlineData(
        """http { endpoint = "127.0.0.1:0", handler = http-ok }""", "shard-runtime.max-connections = 10",
        "shard-runtime.max-connections", "did you mean 'shard-runtime.listener-defaults.max-connections' or 'shard-runtime.listeners.<name>.max-connections'?")]
    public async Task An_unknown_key_must_stop_start_up_with_exit_code_2_naming_the_file_the_key_and_the_nearest_valid_key(
        string listeners, string more, string key, string suggestion)
    {
        await using var host = HostProcess.Start(output, HostProcess.Config(listeners, more));

        var exitCode = await host.WaitForExitAsync(ExitTimeout);

        Assert.True(exitCode == 2, $"exit code {exitCode}\n{host.Output}");
        Assert.Contains($"{host.ConfigPath}: Setting '{key}': is not a known key", host.Output);
        Assert.Contains(suggestion, host.Output);
        Assert.False(File.Exists(host.ControlSocket), "the node opened its control socket despite the unknown key");
    }

    [Fact]
    public async Task An_unknown_handler_name_must_stop_start_up_with_exit_code_2_listing_the_known_handlers()
    {
        await using var host = HostProcess.Start(output, HostProcess.Config("""http { endpoint = "127.0.0.1:0", handler = htp-ok }"""));

        var exitCode = await host.WaitForExitAsync(ExitTimeout);

        Assert.True(exitCode == 2, $"exit code {exitCode}\n{host.Output}");
        Assert.Contains($"{host.ConfigPath}: Setting 'shard-runtime.listeners.http.handler': unknown handler 'htp-ok'; did you mean 'http-ok'?", host.Output);
        Assert.Contains("known handlers: echo, echo-async, http-ok", host.Output);
        Assert.DoesNotContain("Starting ShardRuntime node", host.Output);
    }

    [Theory]
    [InlineData("unclosed braces", """
        shard-runtime {
          listeners {
            http { endpoint = "127.0.0.1:0", handler = http-ok
          }
        """)]
    [InlineData("unresolved substitution", """
        shard-runtime.listeners.http { endpoint = ${no-such.setting}, handler = http-ok }
        """)]
    public async Task A_HOCON_syntax_error_must_stop_start_up_with_exit_code_2_naming_the_file(string error, string configText)
    {
        await using var host = HostProcess.Start(output, configText);

        var exitCode = await host.WaitForExitAsync(ExitTimeout);

        Assert.True(exitCode == 2, $"{error}: exit code {exitCode}\n{host.Output}");
        Assert.Contains(host.ConfigPath, host.Output);
        Assert.Contains("not valid HOCON", host.Output);
    }

    [Fact]
    public async Task A_config_file_that_does_not_exist_must_stop_start_up_with_exit_code_2_naming_the_file()
    {
        await using var host = HostProcess.Start(output, configText: null);

        var exitCode = await host.WaitForExitAsync(ExitTimeout);

        Assert.True(exitCode == 2, $"exit code {exitCode}\n{host.Output}");
        Assert.Contains(host.ConfigPath, host.Output);
    }
}
