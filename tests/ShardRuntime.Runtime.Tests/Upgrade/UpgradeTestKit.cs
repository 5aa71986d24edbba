using System.Net;
using System.Net.Sockets;
using ShardRuntime.Runtime.Upgrade;
using ShardRuntime.Runtime.Sockets;

namespace ShardRuntime.Runtime.Tests.Upgrade;

/// <summary>An upgrade socket in a fresh temporary directory, and helpers shared by the upgrade tests.</summary>
internal sealed class UpgradeTestKit : IDisposable
{
    public static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(30);

    private UpgradeTestKit(string directory, Socket listener)
    {
        Directory = directory;
        Listener = listener;
    }

    public string Directory { get; }

    public string SocketPath => Path.Combine(Directory, "upgrade.sock");

    public Socket Listener { get; }

    public static UpgradeTestKit Create()
    {
        string directory = System.IO.Directory.CreateTempSubdirectory("upgrade-").FullName;
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(Path.Combine(directory, "upgrade.sock")));
        listener.Listen(4);
        return new UpgradeTestKit(directory, listener);
    }

    /// <summary>Accepts one successor on the upgrade socket and serves it.</summary>
    public async Task<UpgradeOutcome> ServeOneAsync(
        IReadOnlyList<(Socket, SocketLabel)> sockets, int batchSize = UpgradeServer.DefaultBatchSize, TimeSpan? readyTimeout = null)
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        var connection = await Listener.AcceptAsync(timeout.Token);
        return await new UpgradeServer(batchSize, StepTimeout).ServeAsync(connection, sockets, readyTimeout ?? StepTimeout, timeout.Token);
    }

    /// <summary>Labels shards of one listener in order.</summary>
    public static List<(Socket, SocketLabel)> Labelled(IEnumerable<Socket> shards, string listener = "web") =>
        shards.Select((s, i) => (s, new SocketLabel(listener, (IPEndPoint)s.LocalEndPoint!, TransportProtocol.Tcp, i, 0))).ToList();

    /// <summary>Connects a client, sends one byte and expects it back.</summary>
    public static async Task EchoOneByteAsync(Socket client, byte value)
    {
        using var timeout = new CancellationTokenSource(StepTimeout);
        await client.SendAsync(new[] { value }, SocketFlags.None, timeout.Token);
        var reply = new byte[1];
        int read = await client.ReceiveAsync(reply, SocketFlags.None, timeout.Token);
        Assert.Equal(1, read);
        Assert.Equal(value, reply[0]);
    }

    /// <summary>Accepts one connection from <paramref name="listener"/> and echoes one byte on it.</summary>
    public static async Task AcceptAndEchoAsync(Socket listener)
    {
        using var timeout = new CancellationTokenSource(StepTimeout);
        using var connection = await listener.AcceptAsync(timeout.Token);
        var buffer = new byte[1];
        int read = await connection.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        Assert.Equal(1, read);
        await connection.SendAsync(buffer, SocketFlags.None, timeout.Token);
    }

    public void Dispose()
    {
        Listener.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
