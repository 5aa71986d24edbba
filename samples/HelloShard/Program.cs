using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Hosting;
using HelloShard;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ShardRuntime.Actors.Coordination;
using ShardRuntime.Actors.Hosting;

// A node with one listener, "upper", serving the line protocol of UpperCaseHandler.cs on a free port of 127.0.0.1.
var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddAkka("hello-shard", akka => akka.WithShardRuntime(o =>
{
    o.AddHandler(new UpperCaseFactory());
    o.AddListener("upper", l => { l.EndPoint = "127.0.0.1:0"; l.Handler = "upper"; l.Shards = 1; });
}));
using var host = builder.Build();
await host.StartAsync();

// Scaled from code: four listening sockets on the port, now. Every command answers its typed reply, or
// Status.Failure(CommandFailedException) which Ask throws, saying which command failed and why.
var timeout = TimeSpan.FromSeconds(10);
var coordinator = await host.Services.GetRequiredService<ActorRegistry>().GetAsync<Coordinator.Marker>();
await coordinator.Ask<Coordinator.ScaledTo>(new Coordinator.ScaleTo("upper", 4), timeout);
var status = await coordinator.Ask<Coordinator.NodeStatus>(Coordinator.GetStatus.Instance, timeout);
var upper = status.Listeners.Single(l => l.Name == "upper");
Console.WriteLine($"upper: {upper.EndPoint}, {upper.Shards.Count} sockets");

// One request, as a client sends it.
string? reply;
using (var client = new TcpClient())
{
    await client.ConnectAsync(IPEndPoint.Parse(upper.EndPoint));
    await client.GetStream().WriteAsync("hello, shard\n"u8.ToArray());
    reply = await new StreamReader(client.GetStream()).ReadLineAsync();
}
Console.WriteLine(reply);                                // HELLO, SHARD
await host.StopAsync();
return reply == "HELLO, SHARD" ? 0 : 1;
