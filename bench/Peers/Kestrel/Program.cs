using System.Globalization;
using System.Net;

// bench/peers.sh's Kestrel peer: `peers-kestrel PORT` serves 127.0.0.1:PORT; GET / answers 200 "OK", GET /64k a 64 KiB
// body. Kestrel's defaults otherwise, but for a keep-alive timeout of 300 s (idle connections outlive a measurement).
if (args.Length != 1 || !int.TryParse(args[0], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
{
    Console.Error.WriteLine("usage: peers-kestrel PORT");
    return 2;
}

var body64KiB = new byte[64 * 1024];
Array.Fill(body64KiB, (byte)'x');

var builder = WebApplication.CreateBuilder();
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(300);
    kestrel.Listen(IPAddress.Loopback, port);
});

var app = builder.Build();
app.MapGet("/", () => "OK");
app.MapGet("/64k", () => Results.Bytes(body64KiB, "application/octet-stream"));
await app.RunAsync();
return 0;
