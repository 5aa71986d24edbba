using System.Net.Sockets;
using ShardRuntime.Runtime.Upgrade;

// The successor of the upgrade tests. Usage: SuccessorChild <upgrade socket path> [--hold]
// Receives every socket, accepts on each and echoes whatever a connection sends, prints "ready <count>", says Ready,
// and runs until its stdin closes (or the test ends it by pid).
// --hold: a successor stuck mid-upgrade: it receives every socket, prints "received <count> <inodes>", and then neither
// accepts nor says Ready; it waits for its stdin to close or for the test to kill it by pid.
if (args.Length is < 1 or > 2 || (args.Length == 2 && args[1] != "--hold"))
{
    Console.Error.WriteLine("usage: SuccessorChild <upgrade socket path> [--hold]");
    return 2;
}

using var client = new UpgradeClient(TimeSpan.FromSeconds(10));
IReadOnlyList<(Socket Socket, SocketLabel Label)> sockets;
try
{
    sockets = await client.ReceiveAsync(args[0], CancellationToken.None);
}
catch (UpgradeException ex)
{
    Console.Error.WriteLine($"upgrade failed: {ex.Message}");
    return 1;
}

if (args.Length == 2)
{
    Console.WriteLine($"received {sockets.Count} {string.Join(",", sockets.Select(s => s.Label.Inode))}");
    await Console.In.ReadToEndAsync();
    return 0;
}

foreach (var (socket, _) in sockets)
{
    _ = AcceptLoopAsync(socket);
}

Console.WriteLine($"ready {sockets.Count}");
await client.SendReadyAsync();
await Console.In.ReadToEndAsync();
return 0;

static async Task AcceptLoopAsync(Socket listener)
{
    while (true)
    {
        Socket connection;
        try
        {
            connection = await listener.AcceptAsync();
        }
        catch (SocketException)
        {
            continue;
        }
        catch (ObjectDisposedException)
        {
            return;
        }

        _ = EchoAsync(connection);
    }
}

static async Task EchoAsync(Socket connection)
{
    using (connection)
    {
        var buffer = new byte[4096];
        try
        {
            int read;
            while ((read = await connection.ReceiveAsync(buffer, SocketFlags.None)) > 0)
            {
                await connection.SendAsync(buffer.AsMemory(0, read), SocketFlags.None);
            }
        }
        catch (SocketException)
        {
        }
    }
}
