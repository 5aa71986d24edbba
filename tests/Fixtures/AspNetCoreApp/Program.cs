using System.Globalization;
using System.Net;
using ShardRuntime.AspNetCore;

// A minimal API app. Usage: AspNetCoreApp <control socket> [--port N] [--shards N] [--plain]
// GET / answers 200 "OK" (Content-Length 2), GET /hello?n=X answers "hello X". On ShardRuntime (UseShardRuntime, with
// EnableUpgrade: `shardruntime upgrade --control-socket <control socket>` starts the app again, which takes the
// sockets over) on 127.0.0.1:<port> (default 0: a free port), <shards> sockets (default 2); --plain: the same app on
// plain Kestrel (its own socket; no control socket, no upgrade), for contrast. Prints "Node <pid> serving" once it
// accepts and "Node <pid> stopped" when it ends.
if (!TryParse(args, out var controlSocket, out var port, out var shards, out var plain))
{
    Console.Error.WriteLine("usage: AspNetCoreApp <control socket> [--port N] [--shards N] [--plain]");
    return 2;
}

var builder = WebApplication.CreateBuilder();
builder.Logging.SetMinimumLevel(LogLevel.Warning);
if (plain)
    builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
else
    builder.WebHost.UseShardRuntime(o =>
    {
        o.AddListener("web", l =>
        {
            l.EndPoint = $"127.0.0.1:{port}";
            l.Shards = shards;
        });
        o.ControlSocketPath = controlSocket;
        o.EnableControlSocket = true;
        o.ShutdownDrainTimeout = TimeSpan.FromSeconds(10);
        o.EnableUpgrade();
    }, actorSystemName: "aspnetcore-app");

var app = builder.Build();
app.MapGet("/", (HttpContext context) =>
{
    context.Response.ContentLength = 2;
    return context.Response.WriteAsync("OK");
});
app.MapGet("/hello", (HttpContext context) =>
{
    var text = $"hello {context.Request.Query["n"]}";
    context.Response.ContentLength = text.Length;
    return context.Response.WriteAsync(text);
});
await app.StartAsync();
Console.WriteLine($"Node {Environment.ProcessId} serving");
await app.WaitForShutdownAsync();
Console.WriteLine($"Node {Environment.ProcessId} stopped");
return 0;

static bool TryParse(string[] args, out string controlSocket, out int port, out int shards, out bool plain)
{
    controlSocket = args.Length > 0 ? args[0] : "";
    port = 0;
    shards = 2;
    plain = false;
    if (controlSocket.Length == 0 || controlSocket.StartsWith("--", StringComparison.Ordinal)) return false;
    for (var i = 1; i < args.Length; i++)
    {
        switch (args[i])
        {
            case "--plain":
                plain = true;
                break;
            case "--port" when i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out port) && port <= 65535:
                i++;
                break;
            case "--shards" when i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out shards) && shards >= 1:
                i++;
                break;
            default:
                return false;
        }
    }
    return true;
}
