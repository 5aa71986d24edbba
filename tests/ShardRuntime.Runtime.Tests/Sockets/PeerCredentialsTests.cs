using System.Net.Sockets;
using System.Runtime.Versioning;
using ShardRuntime.Runtime.Sockets;

namespace ShardRuntime.Runtime.Tests.Sockets;

[SupportedOSPlatform("linux")]
public sealed class PeerCredentialsTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("shard-runtime-peercred-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task PeerCredentials_must_report_our_pid_and_uid_on_both_ends_of_a_unix_socket_pair()
    {
        var endPoint = new UnixDomainSocketEndPoint(Path.Combine(_directory, "s"));
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(endPoint);
        listener.Listen();
        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await client.ConnectAsync(endPoint);
        using var accepted = await listener.AcceptAsync();

        var expected = new PeerCredentials(Environment.ProcessId, ProcessIdentity.EffectiveUserId, PeerCredentials.Of(accepted).GroupId);
        Assert.Equal(expected, PeerCredentials.Of(accepted));
        Assert.Equal(expected, PeerCredentials.Of(client));
    }

    [SkippableFact]
    public async Task PeerCredentials_must_report_the_uid_and_pid_of_a_peer_of_another_user()
    {
        string? why = OtherUserProcess.WhyUnavailable();
        Skip.If(why is not null, why);

        string path = Path.Combine(_directory, "control");
        File.SetUnixFileMode(_directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                                         UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        File.SetUnixFileMode(path, (UnixFileMode)0b110_110_110); // 0666 so that nobody may connect
        listener.Listen();

        const string script = """
            import os, socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(sys.argv[1])
            print('ready', os.getpid(), flush=True)
            sys.stdin.read()
            """;
        using var child = await OtherUserProcess.StartAsync(script, path);
        using var accepted = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(10));

        var credentials = PeerCredentials.Of(accepted);
        Assert.Equal(65534u, credentials.UserId);
        Assert.Equal(int.Parse(child.ReadyLine.Split(' ')[1]), credentials.ProcessId);
    }

    [Fact]
    public void PeerCredentials_must_refuse_a_socket_that_is_not_a_unix_domain_socket()
    {
        using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var error = Assert.Throws<ArgumentException>(() => PeerCredentials.Of(tcp));
        Assert.Contains("InterNetwork", error.Message);
    }
}
