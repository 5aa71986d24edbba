using Akka.Configuration;
using ShardRuntime.Actors.Settings;

namespace ShardRuntime.Actors.Tests.Settings;

public sealed class ConfigKeysSpecs
{
    private static IReadOnlyList<ConfigKeys.Problem> Find(string hocon) => ConfigKeys.Find(ConfigurationFactory.ParseString(hocon));

    [Fact]
    public void Every_key_of_reference_conf_must_be_valid()
    {
        Assert.Empty(ConfigKeys.Find(ReferenceConfig.Default));
    }

    [Fact]
    public void A_listener_must_accept_every_key_of_listener_defaults_and_its_endpoint()
    {
        // Values only: a block of listener-defaults (dns-static) takes a block (DatagramSettingsSpecs).
        var defaults = ReferenceConfig.Default.GetConfig("shard-runtime.listener-defaults").AsEnumerable().Where(kv => !kv.Value.IsObject()).Select(kv => kv.Key).ToList();
        var block = string.Join("\n", defaults.Select(k => $"{k} = 1")); // the values are not the keys' business

        var problems = Find($"shard-runtime.listeners.http {{\n endpoint = \"127.0.0.1:0\"\n{block}\n}}");

        Assert.True(defaults.Count > 10, string.Join(", ", defaults));
        Assert.Empty(problems);
    }

    [Theory]
    [InlineData("""shard-runtime.listeners.http { endpoint = "127.0.0.1:0", shard = 4 }""", "shard-runtime.listeners.http.shard", "shard-runtime.listeners.http.shards")]
    [InlineData("""shard-runtime.listeners.http { endpoint = "127.0.0.1:0", max-conections = 4 }""", "shard-runtime.listeners.http.max-conections", "shard-runtime.listeners.http.max-connections")]
    [InlineData("""shard-runtime.listeners.http { endpiont = "127.0.0.1:0" }""", "shard-runtime.listeners.http.endpiont", "shard-runtime.listeners.http.endpoint")]
    [InlineData("""shard-runtime.listener-defaults.bakclog = 10""", "shard-runtime.listener-defaults.bakclog", "shard-runtime.listener-defaults.backlog")]
    [InlineData("""shard-runtime.control.socket-pth = "/tmp/x" """, "shard-runtime.control.socket-pth", "shard-runtime.control.socket-path")]
    [InlineData("""shard-runtime.cluster.rolling-reload.step-timout = 1m""", "shard-runtime.cluster.rolling-reload.step-timout", "shard-runtime.cluster.rolling-reload.step-timeout")]
    [InlineData("""shard-runtime.io-loop = 2""", "shard-runtime.io-loop", "shard-runtime.io-loops")]
    public void A_misspelt_key_must_be_found_with_the_nearest_valid_key_at_its_level(string hocon, string key, string suggestion)
    {
        var problem = Assert.Single(Find(hocon));

        Assert.Equal(key, problem.Key);
        Assert.Equal([suggestion], problem.Suggestions);
        Assert.Contains($"did you mean '{suggestion}'?", problem.Text);
    }

    [Fact]
    public void A_listener_key_directly_under_shard_runtime_must_be_told_where_it_belongs()
    {
        var problem = Assert.Single(Find("shard-runtime.max-connections = 10"));

        Assert.Equal("shard-runtime.max-connections", problem.Key);
        Assert.Equal(["shard-runtime.listener-defaults.max-connections", "shard-runtime.listeners.<name>.max-connections"], problem.Suggestions.Order());
        Assert.Contains("at this level", problem.Text);
    }

    [Fact]
    public void A_node_wide_key_in_a_listener_must_be_told_where_it_belongs()
    {
        var problem = Assert.Single(Find("""shard-runtime.listeners.http { endpoint = "127.0.0.1:0", io-loops = 2 }"""));

        Assert.Equal("shard-runtime.listeners.http.io-loops", problem.Key);
        Assert.Equal(["shard-runtime.io-loops"], problem.Suggestions);
    }

    [Fact]
    public void A_listeners_key_written_directly_under_listeners_must_be_told_it_belongs_in_a_listeners_block()
    {
        var problem = Assert.Single(Find("""shard-runtime.listeners { endpoint = "127.0.0.1:0" }"""));

        Assert.Equal("shard-runtime.listeners.endpoint", problem.Key);
        Assert.Equal(["shard-runtime.listeners.<name>.endpoint"], problem.Suggestions);
    }

    [Fact]
    public void A_key_near_no_valid_key_must_be_found_with_the_valid_keys_of_its_level()
    {
        var problem = Assert.Single(Find("shard-runtime.shutdown.banana = 1"));

        Assert.Equal("shard-runtime.shutdown.banana", problem.Key);
        Assert.Empty(problem.Suggestions);
        Assert.Contains("valid keys here: drain-timeout", problem.Text);
    }

    [Fact]
    public void Blocks_and_values_must_not_stand_in_for_each_other()
    {
        var problems = Find("""
            shard-runtime {
              control = off
              listeners.http { endpoint = "127.0.0.1:0", shards { count = 2 } }
            }
            """);

        Assert.Equal(["shard-runtime.control", "shard-runtime.listeners.http.shards"], problems.Select(p => p.Key));
        Assert.Contains("must be a block", problems[0].Text);
        Assert.Contains("must be a value", problems[1].Text);
    }

    [Fact]
    public void Every_unknown_key_must_be_found_not_only_the_first()
    {
        var problems = Find("""
            shard-runtime {
              io-loop = 2
              listeners {
                a { endpoint = "127.0.0.1:0", hanlder = echo }
                b { endpoint = "127.0.0.1:0", max-conections = 5 }
              }
            }
            """);

        Assert.Equal(
            ["shard-runtime.io-loop", "shard-runtime.listeners.a.hanlder", "shard-runtime.listeners.b.max-conections"],
            problems.Select(p => p.Key).Order());
    }

    [Fact]
    public void Keys_outside_shard_runtime_must_not_be_checked_but_a_misspelt_section_must_be_found()
    {
        Assert.Empty(Find("akka.whatever.made-up = 1\nmy-app.anything = 2"));

        var problem = Assert.Single(Find("shardruntime.listeners.http { endpoint = \"127.0.0.1:0\" }"));
        Assert.Equal("shardruntime", problem.Key);
        Assert.Equal(["shard-runtime"], problem.Suggestions);
    }

    [Theory]
    [InlineData("shards", "shards", 0)]
    [InlineData("shard", "shards", 1)]
    [InlineData("bakclog", "backlog", 1)]
    [InlineData("max-conections", "max-connections", 1)]
    [InlineData("", "abc", 3)]
    [InlineData("kitten", "sitting", 3)]
    public void The_edit_distance_must_count_insertions_deletions_substitutions_and_swaps(string a, string b, int distance)
    {
        Assert.Equal(distance, EditDistance.Between(a, b));
        Assert.Equal(distance, EditDistance.Between(b, a));
    }

    [Fact]
    public void Settings_must_refuse_an_unknown_key_and_carry_every_problem_of_the_configuration()
    {
        var e = Assert.Throws<ShardRuntimeConfigurationException>(() => ShardRuntimeSettings.Create(ConfigurationFactory.ParseString("""
            shard-runtime {
              listeners.http { endpoint = "127.0.0.1:0", shard = 4 }
              listeners.bad { endpoint = "nowhere" }
              control.enabled = maybe
            }
            """)));

        Assert.Equal("shard-runtime.listeners.http.shard", e.Key);
        Assert.Contains("did you mean 'shard-runtime.listeners.http.shards'?", e.Message);
        Assert.Equal(
            ["shard-runtime.control.enabled", "shard-runtime.listeners.bad.endpoint", "shard-runtime.listeners.http.shard"],
            e.Problems.Select(p => p.Key).Order());
    }

    [Fact]
    public void A_check_must_keep_the_listeners_it_could_read_beside_the_problems()
    {
        var check = ShardRuntimeSettings.Check(ConfigurationFactory.ParseString("""
            shard-runtime {
              listeners.good { endpoint = "127.0.0.1:0" }
              listeners.bad { endpoint = "127.0.0.1:0", idle-timeout = soon }
              io-loop = 1
            }
            """));

        Assert.Null(check.Settings);
        Assert.Equal(["good"], check.Listeners.Select(l => l.Name));
        Assert.Equal(["shard-runtime.io-loop", "shard-runtime.listeners.bad.idle-timeout"], check.Problems.Select(p => p.Key).Order());
    }

    [Fact]
    public void A_value_problem_of_a_key_found_unknown_must_not_be_listed_twice()
    {
        var check = ShardRuntimeSettings.Check(ConfigurationFactory.ParseString("""shard-runtime.listeners { endpoint = "127.0.0.1:0" }"""));

        var problem = Assert.Single(check.Problems);
        Assert.Equal("shard-runtime.listeners.endpoint", problem.Key);
        Assert.Contains("did you mean 'shard-runtime.listeners.<name>.endpoint'?", problem.Message);
    }

    [Fact]
    public void A_listener_the_cluster_defines_must_be_refused_with_an_unknown_key()
    {
        var settings = ShardRuntimeSettings.Create(Config.Empty);

        var e = Assert.Throws<ShardRuntimeConfigurationException>(() =>
            settings.ReadListener("api", ConfigurationFactory.ParseString("""endpoint = "127.0.0.1:0", shard = 3"""), "cluster.listeners.api"));

        Assert.Equal("cluster.listeners.api.shard", e.Key);
        Assert.Contains("did you mean 'cluster.listeners.api.shards'?", e.Message);
    }
}
