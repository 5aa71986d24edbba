using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

// bench/udp.sh's plain .NET UDP echo: `peers-udpecho PORT SOCKETS` echoes every datagram on 127.0.0.1:PORT until
// SIGTERM or Ctrl+C. SOCKETS SO_REUSEPORT sockets share the port (1: a single socket, no SO_REUSEPORT), each served by
// its own thread in a blocking ReceiveFrom/SendTo loop (no allocation per datagram).
const int SolSocket = 1;     // SOL_SOCKET
const int SoReusePort = 15;  // SO_REUSEPORT

if (args.Length != 2
    || !int.TryParse(args[0], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535
    || !int.TryParse(args[1], NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count is < 1 or > 1024)
{
    Console.Error.WriteLine("usage: peers-udpecho PORT SOCKETS   (PORT 1-65535, SOCKETS 1-1024)");
    return 2;
}

var sockets = new Socket[count];
for (var i = 0; i < count; i++)
{
    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    if (count > 1) socket.SetRawSocketOption(SolSocket, SoReusePort, BitConverter.GetBytes(1));
    socket.ReceiveBufferSize = 4 << 20; // capped by net.core.rmem_max
    socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
    sockets[i] = socket;
}

var stopping = 0;
var threads = sockets.Select((socket, i) => new Thread(() => Echo(socket)) { Name = $"udp-echo-{i}", IsBackground = true }).ToArray();
foreach (var thread in threads) thread.Start();
Console.WriteLine($"peers-udpecho: {count} socket(s) on 127.0.0.1:{port}");

using var stop = new ManualResetEventSlim();
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
stop.Wait();
Volatile.Write(ref stopping, 1);
foreach (var socket in sockets) socket.Dispose(); // a blocked ReceiveFrom ends with an exception: the loops end
foreach (var thread in threads) thread.Join(TimeSpan.FromSeconds(5));
return 0;

void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    stop.Set();
}

void Echo(Socket socket)
{
    var buffer = new byte[65536];
    var peer = new SocketAddress(AddressFamily.InterNetwork);
    while (Volatile.Read(ref stopping) == 0)
    {
        try
        {
            var length = socket.ReceiveFrom(buffer, SocketFlags.None, peer);
            socket.SendTo(buffer.AsSpan(0, length), SocketFlags.None, peer);
        }
        catch (SocketException) when (Volatile.Read(ref stopping) == 0)
        {
            // A send refused by an earlier ICMP error or a full buffer: the datagram is dropped, as a server does.
        }
        catch (Exception) when (Volatile.Read(ref stopping) == 1)
        {
            return;
        }
    }
}
