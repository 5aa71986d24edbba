using System.Globalization;
using System.Runtime.InteropServices;
using ShardRuntime.Peers.RawSockets;

// bench/peers.sh's raw-socket peer: `peers-rawsockets PORT` serves 127.0.0.1:PORT until SIGTERM or Ctrl+C.
if (args.Length != 1 || !int.TryParse(args[0], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
{
    Console.Error.WriteLine("usage: peers-rawsockets PORT");
    return 2;
}

using var server = new RawHttpServer(port, listeningSockets: 2);
using var stop = new CancellationTokenSource();
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    stop.Cancel();
});
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
{
    context.Cancel = true;
    stop.Cancel();
});

var serving = server.RunAsync();
try
{
    await Task.Delay(Timeout.Infinite, stop.Token);
}
catch (OperationCanceledException)
{
}

server.Dispose(); // closes the listening sockets: the accept loops end
await serving;
return 0;
