using Akka.Configuration;
using ShardRuntime.Actors.Settings;

namespace ShardRuntime.Actors.Tests.Support;

/// <summary>Config of an actor system in the cluster provider on 127.0.0.1, any free port, with ShardRuntime's reference.conf.</summary>
internal static class ClusterSystem
{
    public static Config Config(string extra = "") =>
        ConfigurationFactory.ParseString($$"""
            akka.loglevel = INFO
            akka.actor.provider = cluster
            akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
            {{extra}}
            """).WithFallback(ReferenceConfig.Default);
}
