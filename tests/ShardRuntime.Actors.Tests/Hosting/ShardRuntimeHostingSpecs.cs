using System.Net;
using Akka.Actor;
using Akka.Cluster;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ShardRuntime.Actors.Cluster;
using ShardRuntime.Actors.Hosting;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Actors.Tests.Support;
using ShardRuntime.Runtime.Connections;
using ControlProtocol = ShardRuntime.Actors.ControlSocket.Control;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;
using PredecessorProtocol = ShardRuntime.Actors.Upgrade.Predecessor;

namespace ShardRuntime.Actors.Tests.Hosting;

public sealed class ShardRuntimeHostingSpecs
{
    [Fact]
    public void Options_must_become_HOCON_that_reads_back_into_the_same_settings()
    {
        var options = new ShardRuntimeOptions
        {
            ControlSocketPath = "/tmp/x \"quoted\"/control.sock", ShutdownDrainTimeout = TimeSpan.FromSeconds(7), IoLoops = 3, ActorsOnIoLoops = false,
            IoLoopHoldUpWarning = TimeSpan.FromMilliseconds(250), HandlerLoadTimeout = TimeSpan.FromSeconds(2),
            HandlerDirectories = ["/opt/handlers", "/srv/a \"quoted\" dir/"],
        };
        options.AddListener("http", l =>
        {
            l.EndPoint = "127.0.0.1:8081";
            l.Handler = "http-ok";
            l.Shards = 3;
            l.Backlog = 1024;
            l.MaxConnections = 77;
            l.IdleTimeout = TimeSpan.FromMilliseconds(1500);
            l.RequestHeadTimeout = TimeSpan.FromSeconds(5);
            l.DrainTimeout = TimeSpan.FromSeconds(9);
            l.MaxPendingWriteBytes = 128 * 1024;
            l.FirstTurnInShard = false;
        });

        var settings = ShardRuntimeSettings.Create(options.ToConfig());

        var http = Assert.Single(settings.Listeners);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 8081), http.EndPoint);
        Assert.Equal("http-ok", http.Handler);
        Assert.Equal(3, http.Shards);
        Assert.Equal(1024, http.Backlog);
        Assert.Equal(77, http.MaxConnections);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), http.IdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(5), http.RequestHeadTimeout);
        Assert.Equal(TimeSpan.FromSeconds(9), http.DrainTimeout);
        Assert.Equal(128 * 1024, http.MaxPendingWriteBytes);
        Assert.False(http.FirstTurnInShard);
        Assert.Equal("/tmp/x \"quoted\"/control.sock", settings.Control.SocketPath);
        Assert.Equal(TimeSpan.FromSeconds(7), settings.ShutdownDrainTimeout);
        Assert.Equal(3, settings.IoLoops);
        Assert.False(settings.ActorsOnIoLoops);
        Assert.Equal(TimeSpan.FromMilliseconds(250), settings.IoLoopHoldUpWarning);
        Assert.Equal(TimeSpan.FromSeconds(2), settings.HandlerLoadTimeout);
        Assert.Equal(["/opt/handlers", "/srv/a \"quoted\" dir"], settings.HandlerDirectories);
    }

    [Fact]
    public void Options_left_unset_must_write_no_HOCON_so_reference_conf_decides()
    {
        var options = new ShardRuntimeOptions();
        options.AddListener("echo", l => l.EndPoint = "127.0.0.1:7001");
        var hocon = options.ToHocon();

        Assert.DoesNotContain("idle-timeout", hocon);
        Assert.DoesNotContain("shards", hocon);
        Assert.DoesNotContain("control", hocon);
        var echo = Assert.Single(ShardRuntimeSettings.Create(options.ToConfig()).Listeners);
        Assert.Equal(ReferenceConfig.Default.GetTimeSpan("shard-runtime.listener-defaults.idle-timeout"), echo.IdleTimeout);
    }

    [Fact]
    public async Task WithShardRuntime_must_serve_a_user_handler_register_the_coordinator_and_drain_on_host_stop()
    {
        var controlDir = Directory.CreateTempSubdirectory("shardruntime-hosting-");
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddAkka("hosting-spec", akka => akka.WithShardRuntime(o =>
        {
            o.ControlSocketPath = Path.Combine(controlDir.FullName, "control.sock");
            o.EnableControlSocket = true;
            o.AddHandler(new UpperCaseFactory());
            o.AddListener("upper", l =>
            {
                l.EndPoint = "127.0.0.1:0";
                l.Handler = "upper";
                l.Shards = 2;
            });
        }));
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var registry = host.Services.GetRequiredService<ActorRegistry>();
            var coordinator = await registry.WaitForAsync<CoordinatorProtocol.Marker>();
            Assert.IsType<CoordinatorProtocol.Started>(await coordinator.Ask<object>(CoordinatorProtocol.WaitUntilStarted.Instance, Clients.Timeout));
            Assert.False(registry.TryGet<ClusterListeners.Marker>(out _), "a cluster actor in an actor system without the cluster provider");
            var status = await coordinator.Ask<CoordinatorProtocol.NodeStatus>(CoordinatorProtocol.GetStatus.Instance, Clients.Timeout);
            var upper = Assert.Single(status.Listeners);
            Assert.Equal(2, upper.Shards.Count);
            Assert.True(File.Exists(Path.Combine(controlDir.FullName, "control.sock")));

            using var client = await Clients.ConnectAsync(IPEndPoint.Parse(upper.EndPoint));
            await Clients.SendAsync(client, "shard me");
            Assert.Equal("SHARD ME"u8.ToArray(), await Clients.ReceiveExactlyAsync(client, 8));

            // Host stop drains: the open connection is let finish, so close it from our side while stopping.
            var stopping = host.StopAsync();
            await Clients.SendAsync(client, "bye");
            Assert.Equal("BYE"u8.ToArray(), await Clients.ReceiveExactlyAsync(client, 3));
            client.Shutdown(System.Net.Sockets.SocketShutdown.Send);
            Assert.Equal("", await Clients.ReceiveToEndAsync(client));
            await stopping.WaitAsync(Clients.Timeout);
            Assert.False(File.Exists(Path.Combine(controlDir.FullName, "control.sock")));
        }
        finally
        {
            await host.StopAsync();
            controlDir.Delete(recursive: true);
        }
    }

    /// <summary>A host whose actor system is named <paramref name="systemName"/> with ShardRuntime, one echo listener and <paramref name="configure"/>.</summary>
    private static IHost LibraryHost(string systemName, Action<ShardRuntimeOptions>? configure = null)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddAkka(systemName, akka => akka.WithShardRuntime(o =>
        {
            o.AddListener("echo", l =>
            {
                l.EndPoint = "127.0.0.1:0";
                l.Shards = 1;
            });
            configure?.Invoke(o);
        }));
        return builder.Build();
    }

    /// <summary>Files in the runtime directory whose names start with the actor system's name.</summary>
    private static string[] SocketFilesOf(string systemName) =>
        Directory.Exists(ControlSettings.DefaultDirectory())
            ? Directory.GetFiles(ControlSettings.DefaultDirectory(), systemName + ".*")
            : [];

    [Fact]
    public async Task WithShardRuntime_must_serve_no_control_or_upgrade_socket_unless_the_options_ask_for_them()
    {
        var name = $"no-sockets-{Guid.NewGuid():N}";
        using var host = LibraryHost(name);
        await host.StartAsync();
        try
        {
            var system = host.Services.GetRequiredService<ActorSystem>();
            var registry = host.Services.GetRequiredService<ActorRegistry>();
            var coordinator = await registry.WaitForAsync<CoordinatorProtocol.Marker>();
            Assert.IsType<CoordinatorProtocol.Started>(await coordinator.Ask<object>(CoordinatorProtocol.WaitUntilStarted.Instance, Clients.Timeout));

            Assert.False(registry.TryGet<ControlProtocol.Marker>(out _), "a control actor in the ActorRegistry");
            Assert.False(registry.TryGet<PredecessorProtocol.Marker>(out _), "an upgrade actor in the ActorRegistry");
            await Assert.ThrowsAsync<ActorNotFoundException>(() =>
                system.ActorSelection($"/user/{ControlProtocol.ActorName}").ResolveOne(TimeSpan.FromSeconds(3)));
            await Assert.ThrowsAsync<ActorNotFoundException>(() =>
                system.ActorSelection($"/user/{CoordinatorProtocol.ActorName}/{PredecessorProtocol.ActorName}").ResolveOne(TimeSpan.FromSeconds(3)));
            Assert.Empty(SocketFilesOf(name));
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task WithShardRuntime_asked_for_both_sockets_without_a_path_must_serve_them_on_paths_two_actor_systems_never_share()
    {
        // Two actor systems of one name in one process: the worst case for a default path.
        var name = $"own-sockets-{Guid.NewGuid():N}"[..24];
        using var first = LibraryHost(name, o => (o.EnableControlSocket, o.EnableUpgradeSocket) = (true, true));
        using var second = LibraryHost(name, o => (o.EnableControlSocket, o.EnableUpgradeSocket) = (true, true));
        await first.StartAsync();
        await second.StartAsync();
        var paths = new List<string>();
        try
        {
            foreach (var host in new[] { first, second })
            {
                var system = host.Services.GetRequiredService<ActorSystem>();
                var control = await host.Services.GetRequiredService<ActorRegistry>().WaitForAsync<ControlProtocol.Marker>();
                var bound = Assert.IsType<ControlProtocol.Bound>(await control.Ask<object>(ControlProtocol.WaitUntilBound.Instance, Clients.Timeout));
                // The coordinator makes its upgrade child once its start-up (handler loads included) is done.
                var coordinator = await host.Services.GetRequiredService<ActorRegistry>().WaitForAsync<CoordinatorProtocol.Marker>();
                Assert.IsType<CoordinatorProtocol.Started>(await coordinator.Ask<object>(CoordinatorProtocol.WaitUntilStarted.Instance, Clients.Timeout));
                using var lookUp = new CancellationTokenSource(Clients.Timeout);
                var upgrade = await host.Services.GetRequiredService<ActorRegistry>().WaitForAsync<PredecessorProtocol.Marker>(lookUp.Token);
                var upgradeBound = Assert.IsType<PredecessorProtocol.Bound>(await upgrade.Ask<object>(PredecessorProtocol.WaitUntilBound.Instance, Clients.Timeout));
                paths.Add(bound.SocketPath);
                paths.Add(upgradeBound.SocketPath);
            }

            Assert.Equal(4, paths.Distinct().Count());
            Assert.All(paths, path =>
            {
                Assert.Equal(ControlSettings.DefaultDirectory(), Path.GetDirectoryName(path));
                Assert.StartsWith($"{name}.{Environment.ProcessId}.", Path.GetFileName(path), StringComparison.Ordinal);
                Assert.True(File.Exists(path), $"{path} is not there");
            });
            Assert.Equal(paths.Order(), SocketFilesOf(name).Order());
            foreach (var path in paths)
            {
                using var client = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
                await client.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(path)).WaitAsync(Clients.Timeout);
            }
        }
        finally
        {
            await first.StopAsync();
            await second.StopAsync();
        }
        Assert.Empty(SocketFilesOf(name));
    }

    /// <summary>
    /// A host whose actor system has the cluster provider (remoting on 127.0.0.1, any free port, plain TCP: said with
    /// insecure-transport = on unless <paramref name="insecure"/> is false) and one listener.
    /// </summary>
    private static IHost ClusterHost(string extraHocon = "", bool insecure = true)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddAkka("hosting-cluster-spec", akka => akka
            .AddHocon($$"""
                akka.actor.provider = cluster
                akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
                shard-runtime { control.enabled = off, upgrade.enabled = off, cluster.insecure-transport = {{(insecure ? "on" : "off")}} }
                {{extraHocon}}
                """, HoconAddMode.Prepend)
            .WithShardRuntime("http", "127.0.0.1:0", "echo", shards: 1));
        return builder.Build();
    }

    [Fact]
    public async Task WithShardRuntime_must_refuse_an_actor_system_whose_remoting_is_plain_TCP_unless_insecure_transport_is_on()
    {
        using var refused = ClusterHost(insecure: false);
        var failure = await Record.ExceptionAsync(async () =>
        {
            await refused.StartAsync();
            var registry = refused.Services.GetRequiredService<ActorRegistry>();
            using var deadline = new CancellationTokenSource(Clients.Timeout);
            await registry.WaitForAsync<CoordinatorProtocol.Marker>(deadline.Token);
        });
        await refused.StopAsync();
        Assert.NotNull(failure);
        var messages = string.Join(" | ", Chain(failure));
        Assert.Contains("akka.remote.dot-netty.tcp.enable-ssl", messages);
        Assert.Contains("shard-runtime.cluster.insecure-transport = on", messages);

        using var allowed = ClusterHost();
        await allowed.StartAsync();
        try
        {
            var coordinator = await allowed.Services.GetRequiredService<ActorRegistry>().WaitForAsync<CoordinatorProtocol.Marker>();
            var status = await coordinator.Ask<CoordinatorProtocol.NodeStatus>(CoordinatorProtocol.GetStatus.Instance, Clients.Timeout);
            Assert.True(status.InsecureTransport);
            Assert.StartsWith("INSECURE: plain TCP", status.Transport);
        }
        finally
        {
            await allowed.StopAsync();
        }

        static IEnumerable<string> Chain(Exception? e)
        {
            for (; e is not null; e = e.InnerException)
            {
                yield return e.Message;
                if (e is AggregateException aggregate)
                    foreach (var inner in aggregate.InnerExceptions) foreach (var m in Chain(inner)) yield return m;
            }
        }
    }

    [Fact]
    public async Task WithShardRuntime_in_a_cluster_must_register_the_cluster_actor_whose_changes_the_coordinator_follows()
    {
        using var host = ClusterHost();
        await host.StartAsync();
        try
        {
            var system = host.Services.GetRequiredService<ActorSystem>();
            var membership = Akka.Cluster.Cluster.Get(system);
            membership.Join(membership.SelfAddress);
            var registry = host.Services.GetRequiredService<ActorRegistry>();
            var cluster = await registry.WaitForAsync<ClusterListeners.Marker>();
            var coordinator = await registry.WaitForAsync<CoordinatorProtocol.Marker>();
            Assert.Equal($"/user/{ClusterListeners.ActorName}", cluster.Path.ToStringWithoutAddress());
            Assert.IsType<CoordinatorProtocol.Started>(await coordinator.Ask<object>(CoordinatorProtocol.WaitUntilStarted.Instance, Clients.Timeout));
            Assert.True(await Eventually.TrueAsync(() => membership.SelfMember.Status == MemberStatus.Up, Clients.Timeout), "the node did not come up");

            var answer = await cluster.Ask<object>(new ClusterListeners.ScaleListener("http", 3), Clients.Timeout);

            var changed = Assert.IsType<ClusterListeners.ListenerChanged>(answer);
            Assert.Equal(("all", 1, 3), (changed.StoredBy, changed.Nodes, changed.Listener.Shards));
            Assert.True(await Eventually.TrueAsync(async () =>
                (await coordinator.Ask<CoordinatorProtocol.NodeStatus>(CoordinatorProtocol.GetStatus.Instance, Clients.Timeout)).Listeners.Single().DesiredShards == 3,
                Clients.Timeout, TimeSpan.FromMilliseconds(50)),
                "the coordinator did not follow the cluster's 3 shards");
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task WithShardRuntime_in_a_cluster_with_the_cluster_section_disabled_must_start_no_cluster_actor()
    {
        using var host = ClusterHost("shard-runtime.cluster.enabled = off");
        await host.StartAsync();
        try
        {
            var registry = host.Services.GetRequiredService<ActorRegistry>();
            await registry.WaitForAsync<CoordinatorProtocol.Marker>();

            Assert.False(registry.TryGet<ClusterListeners.Marker>(out _));
        }
        finally
        {
            await host.StopAsync();
        }
    }

    private sealed class UpperCaseFactory : IConnectionHandlerFactory
    {
        public string Name => "upper";

        public IConnectionHandler Create(IConnectionContext context) => new Handler();

        private sealed class Handler : IConnectionHandler
        {
            public int OnReceived(IConnectionContext context, ReadOnlySpan<byte> data)
            {
                Span<byte> upper = stackalloc byte[Math.Min(data.Length, 256)];
                var done = 0;
                while (done < data.Length)
                {
                    var n = Math.Min(upper.Length, data.Length - done);
                    for (var i = 0; i < n; i++) upper[i] = (byte)char.ToUpperInvariant((char)data[done + i]);
                    context.Write(upper[..n]);
                    done += n;
                }
                return data.Length;
            }
        }
    }
}
