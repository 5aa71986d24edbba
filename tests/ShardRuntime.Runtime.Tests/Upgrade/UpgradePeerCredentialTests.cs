using System.Net.Sockets;
using ShardRuntime.Runtime.Upgrade;
using ShardRuntime.Runtime.Tests.Sockets;
using static ShardRuntime.Runtime.Tests.Sockets.SocketTestKit;

namespace ShardRuntime.Runtime.Tests.Upgrade;

public sealed class UpgradePeerCredentialTests
{
    // Connects as nobody, reads until the server closes, and reports how many descriptors came (SCM_RIGHTS) and the text.
    private const string NobodyPeerScript = """
        import socket, sys
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(sys.argv[1])
        data, fds = b"", 0
        while True:
            msg, ancillary, flags, _ = s.recvmsg(65536, socket.CMSG_SPACE(64 * 4))
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds += len(payload) // 4
            if not msg:
                break
            data += msg
        print(f"fds={fds} frame={data[4:].decode()}", flush=True)
        sys.stdin.read()
        """;

    [SkippableFact]
    public async Task Upgrade_must_refuse_a_peer_of_another_user_and_pass_it_nothing()
    {
        string? why = OtherUserProcess.WhyUnavailable();
        Skip.If(why is not null, why);
        using var kit = UpgradeTestKit.Create();

        // nobody may reach the socket, so SO_PEERCRED is what refuses, not the file mode.
        File.SetUnixFileMode(kit.Directory, (UnixFileMode)0b111_101_101);
        File.SetUnixFileMode(kit.SocketPath, (UnixFileMode)0b110_110_110);
        var shards = BindShards(2);
        try
        {
            var serving = kit.ServeOneAsync(UpgradeTestKit.Labelled(shards));
            using var nobody = await OtherUserProcess.StartAsync(NobodyPeerScript, kit.SocketPath);

            var outcome = await serving.WaitAsync(UpgradeTestKit.TestTimeout);
            Assert.Equal(UpgradeResult.Refused, outcome.Result);
            Assert.Equal(65534u, outcome.Peer!.Value.UserId);
            Assert.Equal(0, outcome.SocketsPassed);
            Assert.Contains("65534 (nobody)", outcome.Reason);

            Assert.StartsWith("fds=0 ", nobody.ReadyLine);
            Assert.Contains("\"type\":\"Refused\"", nobody.ReadyLine);
            Assert.Contains("only uid 0", nobody.ReadyLine);

            // Nothing happened to the sockets.
            Assert.All(shards, s => Assert.True(ShardRuntime.Runtime.Sockets.SocketOptionsNative.IsListening(s)));
        }
        finally
        {
            DisposeAll(shards);
        }
    }
}
