using Akka.Actor;
using Akka.Hosting;
using EmbeddedApp;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ShardRuntime.Actors.Coordination;
using ShardRuntime.Actors.Hosting;

// The app of the embedded upgrade specs. Usage: EmbeddedApp <control socket> [--no-upgrade]
// Serves "http" (the built-in http-ok, 2 shards) and "upper" (its own UppercaseFactory, 1 shard) on free ports of
// 127.0.0.1, with the control socket at the path given; prints "Node <pid> serving" once its listeners accept and
// "Node <pid> stopped" when it ends (SIGTERM, or its actor system ended after a successor took over).
// --no-upgrade: the app does not call EnableUpgrade.
if (args.Length is < 1 or > 2 || (args.Length == 2 && args[1] != "--no-upgrade"))
{
    Console.Error.WriteLine("usage: EmbeddedApp <control socket> [--no-upgrade]");
    return 2;
}

var builder = Host.CreateApplicationBuilder();
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddAkka("embedded-app", akka => akka.WithShardRuntime(o =>
{
    o.AddHandler(new UppercaseFactory());
    o.AddListener("http", l => { l.EndPoint = "127.0.0.1:0"; l.Handler = "http-ok"; l.Shards = 2; });
    o.AddListener("upper", l => { l.EndPoint = "127.0.0.1:0"; l.Handler = UppercaseFactory.HandlerName; l.Shards = 1; });
    o.ControlSocketPath = args[0];
    o.EnableControlSocket = true;
    o.ShutdownDrainTimeout = TimeSpan.FromSeconds(5);
    if (args.Length == 1) o.EnableUpgrade();
}));
using var host = builder.Build();
await host.StartAsync();
var coordinator = await host.Services.GetRequiredService<ActorRegistry>().GetAsync<Coordinator.Marker>();
await coordinator.Ask<Coordinator.Started>(Coordinator.WaitUntilStarted.Instance, TimeSpan.FromSeconds(60));
Console.WriteLine($"Node {Environment.ProcessId} serving");
await host.WaitForShutdownAsync();
Console.WriteLine($"Node {Environment.ProcessId} stopped");
return 0;
