using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using ShardRuntime.Runtime.Systemd;
using ShardRuntime.Runtime.Sockets;

namespace ShardRuntime.Runtime.Tests.Systemd;

public sealed partial class SystemdSocketActivationTests
{
    private static readonly ListenerSocketOptions Loopback = new(new IPEndPoint(IPAddress.Loopback, 0));

    [Fact]
    public void Inherited_sockets_must_be_adopted_by_name_with_their_own_inode_and_accept_queue()
    {
        using var http = ReuseportSocketFactory.Instance.Bind(Loopback);
        using var echo = ReuseportSocketFactory.Instance.Bind(Loopback);
        var first = DuplicateConsecutive(http, echo);
        // A client already queued on http before the hand-over: it must be served by the adopted copy.
        using var queued = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        queued.Connect(http.LocalEndPoint!);

        var adopted = SystemdSocketActivation.Take(Variables(System.Environment.ProcessId, "2", "http:echo"), first, unsetEnvironment: false);
        try
        {
            Assert.Equal(["http", "echo"], adopted.Select(s => s.Name));
            Assert.Equal(http.LocalEndPoint, adopted[0].EndPoint);
            Assert.Equal(echo.LocalEndPoint, adopted[1].EndPoint);
            Assert.All(adopted, s => Assert.Equal(TransportProtocol.Tcp, s.Protocol));
            Assert.Equal(KernelSocketTable.GetInode(http), KernelSocketTable.GetInode(adopted[0].Socket));

            http.Dispose(); // the original copy goes; the kernel socket and its queue stay with the adopted one
            adopted[0].Socket.ReceiveTimeout = 10_000;
            using var served = adopted[0].Socket.Accept();
            Assert.Equal(queued.LocalEndPoint, served.RemoteEndPoint);
        }
        finally
        {
            foreach (var s in adopted) s.Socket.Dispose();
        }
    }

    [Fact]
    public void Sockets_meant_for_another_process_or_no_variables_must_adopt_nothing()
    {
        Assert.Empty(SystemdSocketActivation.Take(Variables(System.Environment.ProcessId + 1, "2", "a:b"), 3, unsetEnvironment: false));
        Assert.Empty(SystemdSocketActivation.Take(_ => null, 3, unsetEnvironment: false));
    }

    [Theory]
    [InlineData("x", "1", "", "LISTEN_PID must be a process id, got 'x'")]
    [InlineData(null, "-1", "", "LISTEN_FDS must be a count of descriptors, got '-1'")]
    [InlineData(null, "2", "only-one", "LISTEN_FDNAMES names 1 descriptors but LISTEN_FDS says 2")]
    public void Malformed_variables_must_be_refused_naming_the_variable(string? pid, string count, string names, string error)
    {
        var e = Assert.Throws<InvalidOperationException>(() =>
            SystemdSocketActivation.Take(Variables(pid ?? System.Environment.ProcessId.ToString(CultureInfo.InvariantCulture), count, names), 3, unsetEnvironment: false));
        Assert.Equal(error, e.Message);
    }

    [Fact]
    public void A_descriptor_that_is_not_a_listening_socket_must_be_refused_naming_it()
    {
        using var connected = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        connected.Bind(new IPEndPoint(IPAddress.Loopback, 0)); // bound, never listening
        var fd = Dup(connected, 600);
        var e = Assert.Throws<InvalidOperationException>(() =>
            SystemdSocketActivation.Take(Variables(System.Environment.ProcessId, "1", "web"), fd, unsetEnvironment: false));
        Assert.Equal($"inherited descriptor {fd} ('web') is a TCP socket that is not listening", e.Message);
    }

    private static Func<string, string?> Variables(int pid, string count, string names) =>
        Variables(pid.ToString(CultureInfo.InvariantCulture), count, names);

    private static Func<string, string?> Variables(string pid, string count, string names) => name => name switch
    {
        "LISTEN_PID" => pid,
        "LISTEN_FDS" => count,
        "LISTEN_FDNAMES" => names,
        _ => null,
    };

    /// <summary>Duplicates the sockets' descriptors onto consecutive numbers, as systemd hands them over; returns the first.</summary>
    private static int DuplicateConsecutive(Socket a, Socket b)
    {
        for (var start = 500; start < 900; start += 7)
        {
            var first = Dup(a, start);
            var second = Dup(b, first + 1);
            if (second == first + 1) return first;
            Close(first);
            Close(second);
        }
        throw new InvalidOperationException("no two consecutive free descriptors found");
    }

    private static int Dup(Socket socket, int atLeast)
    {
        const int FDupFd = 0;
        var fd = Fcntl((int)socket.SafeHandle.DangerousGetHandle(), FDupFd, atLeast);
        if (fd < 0) throw new InvalidOperationException($"fcntl(F_DUPFD) failed: errno {Marshal.GetLastPInvokeError()}");
        return fd;
    }

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
