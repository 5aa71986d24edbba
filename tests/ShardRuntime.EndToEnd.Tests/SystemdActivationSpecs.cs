using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using ShardRuntime.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests;

/// <summary>
/// The node under systemd, with the real protocols and no systemd as PID 1: socket activation through
/// <c>systemd-socket-activate</c> (it binds, waits for the first connection, then execs the node with LISTEN_FDS,
/// LISTEN_PID and LISTEN_FDNAMES, keeping its PID), and sd_notify through a datagram socket of the test's own, read as
/// systemd reads it (with each sender's credentials).
/// </summary>
public sealed partial class SystemdActivationSpecs(ITestOutputHelper output)
{
    private const string Activator = "/usr/bin/systemd-socket-activate";
    private const int PortAttempts = 5;

    private static readonly TimeSpan NotifyTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan UpgradeCliTimeout = TimeSpan.FromMinutes(2);

    [SkippableFact]
    public async Task A_socket_activated_node_must_adopt_the_inherited_socket_instead_of_binding_and_serve_the_connection_that_started_it()
    {
        var (host, endPoints, inodes) = await StartActivatedAsync(["http"]);
        await using var node = host;
        var http = endPoints[0];
        await File.WriteAllTextAsync(host.ConfigPath, HostProcess.Config($$"""
            http { endpoint = "{{http}}", handler = http-ok, shards = 1 }
            """));

        // The first connection makes systemd-socket-activate exec the node; it waits in the socket's queue meanwhile.
        using var first = await Clients.ConnectAsync(http);
        var status = await host.WaitUntilReadyAsync();

        Assert.Equal(host.ProcessId, status.ProcessId); // exec: the activator's PID is the node's
        var listener = status.Listener("http");
        Assert.Equal(http, listener.Bound);
        var shard = Assert.Single(listener.Shards);
        // The node serves descriptor 3, the very socket the activator bound (same inode), and the kernel shows no other.
        Assert.Equal(inodes[0], InodeOfDescriptor(host.ProcessId, 3));
        Assert.Equal(inodes[0], shard.SocketInode);
        Assert.Equal([inodes[0]], await KernelSockets.ListeningInodesAsync(http));
        Assert.Contains($"Listener http adopts 1 inherited sockets on {http}", host.Output);

        Assert.Equal("HTTP/1.1 200 OK", (await Clients.HttpGetAsync(first)).StatusLine);
        using var later = await Clients.ConnectAsync(http);
        Assert.Equal("HTTP/1.1 200 OK", (await Clients.HttpGetAsync(later)).StatusLine);

        // A reload that would replace the listener's socket is refused: a socket systemd holds would listen on with
        // nobody accepting. The node serves on, on the same socket.
        await File.WriteAllTextAsync(host.ConfigPath, HostProcess.Config($$"""
            http { endpoint = "{{http}}", handler = echo, shards = 1 }
            """));
        var reload = await host.RunCliAsync("reload");
        Assert.Equal(1, reload.ExitCode);
        Assert.Contains("systemd holds", reload.StdErr);
        Assert.Equal(inodes[0], Assert.Single((await host.StatusAsync()).Listener("http").Shards).SocketInode);
        using var after = await Clients.ConnectAsync(http);
        Assert.Equal("HTTP/1.1 200 OK", (await Clients.HttpGetAsync(after)).StatusLine);
    }

    [SkippableFact]
    public async Task A_socket_activated_node_must_adopt_an_inherited_datagram_socket_and_answer_the_datagram_that_started_it()
    {
        var (host, endPoints, inodes) = await StartActivatedAsync(["dns"], datagram: true);
        await using var node = host;
        var dns = endPoints[0];
        await File.WriteAllTextAsync(host.ConfigPath, HostProcess.Config($$"""
            dns { endpoint = "{{dns}}", protocol = udp, handler = udp-echo, shards = 1 }
            """));

        // The first datagram makes the activator exec the node; it waits in the socket's receive queue meanwhile.
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        await client.SendToAsync("first"u8.ToArray(), dns);
        var status = await host.WaitUntilReadyAsync();

        var listener = status.Listener("dns");
        Assert.Equal("udp", listener.Protocol);
        var shard = Assert.Single(listener.Shards);
        // The node serves descriptor 3, the very datagram socket the activator bound, and the kernel shows no other.
        Assert.Equal(inodes[0], InodeOfDescriptor(host.ProcessId, 3));
        Assert.Equal(inodes[0], shard.SocketInode);
        Assert.Equal([inodes[0]], ShardRuntime.Runtime.Sockets.KernelSocketTable.ListListening(dns.Port, ShardRuntime.Runtime.Sockets.TransportProtocol.Udp).Select(k => k.Inode));
        Assert.Contains($"Listener dns adopts 1 inherited sockets on {dns}", host.Output);

        var buffer = new byte[64];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var first = await client.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), timeout.Token);
        Assert.Equal("first", System.Text.Encoding.ASCII.GetString(buffer, 0, first.ReceivedBytes));
        await client.SendToAsync("later"u8.ToArray(), dns);
        var later = await client.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), timeout.Token);
        Assert.Equal("later", System.Text.Encoding.ASCII.GetString(buffer, 0, later.ReceivedBytes));
    }

    [SkippableFact]
    public async Task An_inherited_socket_no_listener_wants_must_be_declined_and_a_listener_that_names_no_inherited_socket_must_bind_its_own()
    {
        var (host, endPoints, inodes) = await StartActivatedAsync(["http", "spare"]);
        await using var node = host;
        var (http, spare) = (endPoints[0], endPoints[1]);
        // "other" is on port 0, where a listener adopts only an inherited socket of its own name: there is none.
        await File.WriteAllTextAsync(host.ConfigPath, HostProcess.Config($$"""
            http { endpoint = "{{http}}", handler = http-ok, shards = 1 }
            other { endpoint = "127.0.0.1:0", handler = echo, shards = 1 }
            """));

        using var first = await Clients.ConnectAsync(http);
        var status = await host.WaitUntilReadyAsync();

        Assert.Equal(inodes[0], Assert.Single(status.Listener("http").Shards).SocketInode);
        var other = status.Listener("other");
        var otherInode = Assert.Single(other.Shards).SocketInode;
        Assert.DoesNotContain(otherInode, inodes);
        Assert.NotEqual(spare.Port, other.Bound.Port);
        Assert.Equal([otherInode], await KernelSockets.ListeningInodesAsync(other.Bound));

        // Declined: the node closed its descriptor, the only one left (the activator became the node), so the port closed.
        Assert.Contains(host.Output.Split('\n'), line => line.Contains("is declined", StringComparison.Ordinal) && line.Contains($"spare#1 (Tcp {spare}", StringComparison.Ordinal));
        Assert.Empty(await KernelSockets.ListeningInodesAsync(spare));

        Assert.Equal("HTTP/1.1 200 OK", (await Clients.HttpGetAsync(first)).StatusLine);
        using var echo = await Clients.ConnectAsync(other.Bound);
        var payload = Encoding.ASCII.GetBytes("bound, not inherited\n");
        Assert.Equal(payload, await Clients.EchoAsync(echo, payload));
    }

    [Fact]
    public async Task A_node_must_notify_ready_its_successor_must_notify_its_main_pid_and_sigterm_must_notify_stopping()
    {
        using var notify = NotifySocket.Bind();
        await using var chain = new NodeChain(output);
        await using var host = HostProcess.Start(output, HostProcess.Config("""
            http { endpoint = "127.0.0.1:0", handler = http-ok, shards = 1 }
            """, "shard-runtime.shutdown.drain-timeout = 5s"), new Dictionary<string, string> { ["NOTIFY_SOCKET"] = notify.Path });

        var ready = await notify.WaitForAsync(m => m.Says("READY=1"), NotifyTimeout, "READY=1");
        Assert.Equal(host.ProcessId, ready.SenderPid);
        var http = (await host.WaitUntilReadyAsync()).Listener("http");
        using (var client = await Clients.ConnectAsync(http.Bound))
            Assert.Equal("HTTP/1.1 200 OK", (await Clients.HttpGetAsync(client)).StatusLine);

        var upgrade = await HostCli.RunAsync(["upgrade", "--control-socket", host.ControlSocket], UpgradeCliTimeout);
        Assert.True(upgrade.ExitCode == 0, $"{upgrade}\n{host.Output}");
        var successor = await SuccessorStatusAsync(host);
        chain.Track(successor.ProcessId);
        Assert.Contains($"successor pid {successor.ProcessId.ToString(CultureInfo.InvariantCulture)} ", upgrade.StdOut);

        // The old node, still the main process, names its successor (MAINPID=) before it lets go of the sockets, so
        // systemd never sees its main process exit without one; the successor confirms once it adopted the sockets (READY=1).
        var named = await notify.WaitForAsync(
            m => m.Says($"MAINPID={successor.ProcessId.ToString(CultureInfo.InvariantCulture)}"), NotifyTimeout, $"MAINPID={successor.ProcessId}");
        Assert.Equal(host.ProcessId, named.SenderPid);
        var confirmed = await notify.WaitForAsync(
            m => m.SenderPid == successor.ProcessId && m.Says("READY=1"), NotifyTimeout, $"READY=1 from {successor.ProcessId}");
        Assert.True(confirmed.Says($"MAINPID={successor.ProcessId.ToString(CultureInfo.InvariantCulture)}"), confirmed.ToString());

        // The predecessor drains and exits 0 without telling systemd that the service stops; it named its successor first.
        Assert.Equal(0, await host.WaitForProcessExitAsync(HostProcess.StopTimeout));
        Assert.DoesNotContain(notify.ReadPending(), m => m.Says("STOPPING=1"));
        Assert.True(named.QueuedAt < new DateTimeOffset(host.ExitTime), $"MAINPID= came at {named.QueuedAt:O}, the predecessor exited at {host.ExitTime:O}");

        Posix.Signal(successor.ProcessId, Posix.SigTerm);
        var stopping = await notify.WaitForAsync(m => m.Says("STOPPING=1"), NotifyTimeout, "STOPPING=1");
        Assert.Equal(successor.ProcessId, stopping.SenderPid);
        Assert.True(await NodeChain.WaitUntilGoneAsync(successor.ProcessId, HostProcess.StopTimeout), $"the successor did not stop\n{host.Output}");
        output.WriteLine($"notifications: {notify.Describe()}");
    }

    /// <summary>
    /// Starts the node under systemd-socket-activate listening on one free loopback port per name (named in that order
    /// by --fdname) and waits until the activator holds them as descriptors 3, 4, ... Returns the endpoints and the
    /// sockets' inodes. A port taken by someone else between choosing it and the activator's bind makes the activator
    /// exit: then it starts again on other ports.
    /// </summary>
    private async Task<(HostProcess Host, IReadOnlyList<IPEndPoint> EndPoints, IReadOnlyList<long> Inodes)> StartActivatedAsync(
        IReadOnlyList<string> names, bool datagram = false)
    {
        Skip.IfNot(File.Exists(Activator), $"needs {Activator} (Debian package systemd) to run the node socket-activated");
        for (var attempt = 1; ; attempt++)
        {
            var endPoints = FreeLoopbackEndPoints(names.Count, datagram);
            var launcher = new List<string> { Activator };
            if (datagram) launcher.Add("--datagram"); // ListenDatagram=: the first datagram starts the node
            foreach (var endPoint in endPoints)
                launcher.AddRange(["-l", endPoint.ToString()]);
            launcher.Add($"--fdname={string.Join(':', names)}");
            // The activator gives its command only TERM, PATH, USER, HOME and the variables named with -E.
            if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("DOTNET_ROOT")))
                launcher.AddRange(["-E", "DOTNET_ROOT"]);

            var host = HostProcess.Start(output, configText: null, launcher: launcher);
            var inodes = await WaitUntilActivatorListensAsync(host, endPoints, datagram);
            if (inodes is not null)
                return (host, endPoints, inodes);
            output.WriteLine($"attempt {attempt}: the activator exited before it listened on {string.Join(", ", endPoints)}");
            var log = host.Output;
            await host.DisposeAsync();
            if (attempt == PortAttempts || !log.Contains("Address already in use", StringComparison.Ordinal))
                throw new InvalidOperationException($"{Activator} did not listen on {string.Join(", ", endPoints)} (attempt {attempt}):\n{log}");
        }
    }

    /// <summary>The activator's descriptors 3, 4, ... as inodes once each is the one socket listening on its endpoint; null when it exited.</summary>
    private static async Task<IReadOnlyList<long>?> WaitUntilActivatorListensAsync(HostProcess host, IReadOnlyList<IPEndPoint> endPoints, bool datagram)
    {
        var timeout = TimeSpan.FromSeconds(30);
        var (exited, inodes) = await Eventually.ValueAsync(async () =>
        {
            if (host.HasExited) return (Exited: true, Inodes: new List<long>());
            var inodes = new List<long>();
            foreach (var (endPoint, i) in endPoints.Select((e, i) => (e, i)))
            {
                var inode = InodeOfDescriptor(host.ProcessId, 3 + i);
                var bound = datagram
                    ? ShardRuntime.Runtime.Sockets.KernelSocketTable.ListListening(endPoint.Port, ShardRuntime.Runtime.Sockets.TransportProtocol.Udp).Select(k => k.Inode).ToList()
                    : await KernelSockets.ListeningInodesAsync(endPoint);
                if (inode is not null && bound.SequenceEqual([inode.Value]))
                    inodes.Add(inode.Value);
            }
            return (Exited: false, Inodes: inodes);
        }, seen => seen.Exited || seen.Inodes.Count == endPoints.Count, timeout, TimeSpan.FromMilliseconds(50));
        if (exited) return null;
        if (inodes.Count != endPoints.Count)
            throw new TimeoutException($"{Activator} did not listen on {string.Join(", ", endPoints)} within {timeout.TotalSeconds}s\n{host.Output}");
        return inodes;
    }

    /// <summary>Distinct loopback ports that were free a moment ago (each bound at once to port 0, then released).</summary>
    private static List<IPEndPoint> FreeLoopbackEndPoints(int count, bool datagram)
    {
        var probes = Enumerable.Range(0, count).Select(_ => datagram
            ? new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp)
            : new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)).ToList();
        try
        {
            foreach (var probe in probes)
                probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            return probes.Select(p => (IPEndPoint)p.LocalEndPoint!).ToList();
        }
        finally
        {
            foreach (var probe in probes)
                probe.Dispose();
        }
    }

    /// <summary>The inode of the socket <c>/proc/&lt;pid&gt;/fd/&lt;fd&gt;</c> points to (<c>socket:[inode]</c>); null when it is no socket.</summary>
    private static long? InodeOfDescriptor(int pid, int fd)
    {
        string? target;
        try
        {
            target = new FileInfo($"/proc/{pid}/fd/{fd}").LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
        var match = target is null ? null : SocketLink().Match(target);
        return match is { Success: true } ? long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : null;
    }

    /// <summary>
    /// <c>status --json</c> once the successor answers on the control socket (it renames its socket over the
    /// predecessor's right after the upgrade, so a status asked at once may still reach the draining predecessor).
    /// </summary>
    private static async Task<NodeStatus> SuccessorStatusAsync(HostProcess host)
    {
        var status = await host.StatusWhenAsync(s => s.ProcessId != host.ProcessId && !s.LetGo, TimeSpan.FromSeconds(30));
        if (status.ProcessId == host.ProcessId || status.LetGo)
            throw new TimeoutException($"the successor did not answer on the control socket within 30s: {status}\n{host.Output}");
        return status;
    }

    [GeneratedRegex(@"^socket:\[(\d+)\]$")]
    private static partial Regex SocketLink();
}
