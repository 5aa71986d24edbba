using Akka.Configuration;
using ShardRuntime.Actors.Settings;

namespace ShardRuntime.Actors.Tests.Settings;

public sealed class ClusterSettingsSpecs
{
    private static ShardRuntimeSettings Read(string hocon) => ShardRuntimeSettings.Create(ConfigurationFactory.ParseString(hocon));

    [Fact]
    public void The_cluster_section_must_take_every_value_it_leaves_out_from_reference_conf()
    {
        var cluster = Read("").Cluster;
        var defaults = ReferenceConfig.Default.GetConfig("shard-runtime.cluster");

        Assert.True(cluster.Enabled);
        Assert.Equal(defaults.GetTimeSpan("write-timeout"), cluster.WriteTimeout);
        Assert.Equal(defaults.GetTimeSpan("status-timeout"), cluster.StatusTimeout);
        Assert.Equal(defaults.GetTimeSpan("retry-interval"), cluster.RetryInterval);
        Assert.Equal(defaults.GetTimeSpan("rolling-reload.step-timeout"), cluster.ReloadStepTimeout);
        Assert.Equal(defaults.GetTimeSpan("rolling-reload.timeout"), cluster.ReloadTimeout);
    }

    [Fact]
    public void Values_set_in_the_cluster_section_must_be_read()
    {
        var cluster = Read("""
            shard-runtime.cluster {
              enabled = off, write-timeout = 1500ms, status-timeout = 4s, retry-interval = 250ms
              rolling-reload { step-timeout = 30s, timeout = 30s }
            }
            """).Cluster;

        Assert.Equal(
            new ClusterSettings(false, TimeSpan.FromMilliseconds(1500), TimeSpan.FromSeconds(4), TimeSpan.FromMilliseconds(250),
                TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30)),
            cluster);
    }

    [Theory]
    [InlineData("shard-runtime.cluster.enabled = maybe", "shard-runtime.cluster.enabled", "on or off")]
    [InlineData("shard-runtime.cluster.enabled = null", "shard-runtime.cluster.enabled", "expected on or off, got ''")]
    [InlineData("shard-runtime.cluster.write-timeout = soon", "shard-runtime.cluster.write-timeout", "duration")]
    [InlineData("shard-runtime.cluster.write-timeout = 0s", "shard-runtime.cluster.write-timeout", "at least")]
    [InlineData("shard-runtime.cluster.write-timeout = null", "shard-runtime.cluster.write-timeout", "expected a duration")]
    [InlineData("shard-runtime.cluster.status-timeout = -1s", "shard-runtime.cluster.status-timeout", "duration")]
    [InlineData("shard-runtime.cluster.retry-interval = often", "shard-runtime.cluster.retry-interval", "duration")]
    [InlineData("shard-runtime.cluster.rolling-reload.step-timeout = 0ms", "shard-runtime.cluster.rolling-reload.step-timeout", "at least")]
    [InlineData("shard-runtime.cluster.rolling-reload.step-timeout = null", "shard-runtime.cluster.rolling-reload.step-timeout", "expected a duration")]
    [InlineData("shard-runtime.cluster.rolling-reload.timeout = forever", "shard-runtime.cluster.rolling-reload.timeout", "duration")]
    [InlineData("shard-runtime.cluster.rolling-reload { step-timeout = 5m, timeout = 4m }", "shard-runtime.cluster.rolling-reload.timeout", "at least rolling-reload.step-timeout")]
    public void A_malformed_or_missing_cluster_setting_must_fail_naming_the_key(string hocon, string key, string problem)
    {
        var e = Assert.Throws<ShardRuntimeConfigurationException>(() => Read(hocon));

        Assert.Equal(key, e.Key);
        Assert.Contains(key, e.Message);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void A_rolling_reload_timeout_equal_to_its_step_timeout_must_be_accepted()
    {
        var cluster = Read("shard-runtime.cluster.rolling-reload { step-timeout = 90s, timeout = 90s }").Cluster;

        Assert.Equal(cluster.ReloadStepTimeout, cluster.ReloadTimeout);
    }
}
