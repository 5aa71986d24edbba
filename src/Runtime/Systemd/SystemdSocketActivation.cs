using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using ShardRuntime.Runtime.Sockets;

namespace ShardRuntime.Runtime.Systemd;

/// <summary>
/// systemd socket activation (sd_listen_fds(3)): the sockets systemd opened for this service arrive as file
/// descriptors 3, 4, ... with LISTEN_PID (this process), LISTEN_FDS (how many) and LISTEN_FDNAMES (their names,
/// colon-separated, from FileDescriptorName=). They are adopted, not bound, so their accept queues and inodes are the
/// ones systemd holds. The variables are removed once read, so child processes do not take the sockets for theirs.
/// </summary>
public static partial class SystemdSocketActivation
{
    /// <summary>The first inherited descriptor (SD_LISTEN_FDS_START).</summary>
    public const int FirstDescriptor = 3;

    /// <summary>
    /// Takes the sockets systemd passed to this process, or none when it passed none (or passed them to another
    /// process: LISTEN_PID differs). Throws <see cref="InvalidOperationException"/>, naming the variable or descriptor,
    /// when the variables are malformed or a descriptor is not a bound socket.
    /// </summary>
    public static IReadOnlyList<ActivatedSocket> Take() => Take(Environment.GetEnvironmentVariable, FirstDescriptor, unsetEnvironment: true);

    /// <summary>The same, reading the variables through <paramref name="environment"/> and starting at <paramref name="firstDescriptor"/> (for tests).</summary>
    public static IReadOnlyList<ActivatedSocket> Take(Func<string, string?> environment, int firstDescriptor, bool unsetEnvironment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var pid = environment("LISTEN_PID");
        var count = environment("LISTEN_FDS");
        if (string.IsNullOrEmpty(pid) || string.IsNullOrEmpty(count)) return [];
        if (!int.TryParse(pid, NumberStyles.None, CultureInfo.InvariantCulture, out var listenPid))
            throw new InvalidOperationException($"LISTEN_PID must be a process id, got '{pid}'");
        if (listenPid != Environment.ProcessId) return []; // meant for another process (we were started by it)
        if (!int.TryParse(count, NumberStyles.None, CultureInfo.InvariantCulture, out var fds) || fds < 0 || fds > 4096)
            throw new InvalidOperationException($"LISTEN_FDS must be a count of descriptors, got '{count}'");

        var names = (environment("LISTEN_FDNAMES") ?? "").Split(':');
        if (names.Length == 1 && names[0].Length == 0) names = [];
        if (names.Length != 0 && names.Length != fds)
            throw new InvalidOperationException($"LISTEN_FDNAMES names {names.Length} descriptors but LISTEN_FDS says {fds}");

        if (unsetEnvironment)
        {
            Environment.SetEnvironmentVariable("LISTEN_PID", null);
            Environment.SetEnvironmentVariable("LISTEN_FDS", null);
            Environment.SetEnvironmentVariable("LISTEN_FDNAMES", null);
        }

        var sockets = new List<ActivatedSocket>(fds);
        try
        {
            for (var i = 0; i < fds; i++)
            {
                var fd = firstDescriptor + i;
                var name = names.Length == 0 ? "unknown" : names[i];
                sockets.Add(Adopt(fd, name));
            }
            return sockets;
        }
        catch
        {
            foreach (var adopted in sockets) adopted.Socket.Dispose();
            throw;
        }
    }

    private static ActivatedSocket Adopt(int fd, string name)
    {
        SetCloseOnExec(fd);
        var socket = new Socket(new SafeSocketHandle(fd, ownsHandle: true));
        try
        {
            if (socket.LocalEndPoint is not IPEndPoint endPoint)
                throw new InvalidOperationException($"inherited descriptor {fd} ('{name}') is not a bound IP socket");
            var protocol = socket.SocketType switch
            {
                SocketType.Stream => TransportProtocol.Tcp,
                SocketType.Dgram => TransportProtocol.Udp,
                var other => throw new InvalidOperationException($"inherited descriptor {fd} ('{name}') is a {other} socket, not a stream or datagram socket"),
            };
            if (protocol == TransportProtocol.Tcp && !SocketOptionsNative.IsListening(socket))
                throw new InvalidOperationException($"inherited descriptor {fd} ('{name}') is a TCP socket that is not listening");
            return new ActivatedSocket(name, socket, endPoint, protocol);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static void SetCloseOnExec(int fd)
    {
        const int FGetFd = 1, FSetFd = 2, FdCloexec = 1;
        var flags = Fcntl(fd, FGetFd, 0);
        if (flags < 0)
            throw new InvalidOperationException($"inherited descriptor {fd} is not open (errno {Marshal.GetLastPInvokeError()})");
        Fcntl(fd, FSetFd, flags | FdCloexec);
    }

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, int argument);
}
