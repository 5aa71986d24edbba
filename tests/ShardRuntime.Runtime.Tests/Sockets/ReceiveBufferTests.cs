using System.Globalization;
using System.Net.Sockets;
using ShardRuntime.Runtime.Sockets;

namespace ShardRuntime.Runtime.Tests.Sockets;

/// <summary>
/// A UDP listener's receive buffer is what holds datagrams while its shard does not read: the kernel caps SO_RCVBUF at
/// net.core.rmem_max (about 208 KiB by default), and a privileged process goes past it with SO_RCVBUFFORCE.
/// </summary>
public sealed class ReceiveBufferTests
{
    [Fact]
    public void A_receive_buffer_within_rmem_max_must_be_granted_as_asked()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);

        Assert.Equal(64 * 1024, SocketOptionsNative.SetReceiveBuffer(socket, 64 * 1024));
    }

    [SkippableFact]
    public void A_receive_buffer_past_rmem_max_must_be_forced_for_a_process_with_CAP_NET_ADMIN()
    {
        Skip.IfNot(ProcessIdentity.EffectiveUserId == 0, "needs root (CAP_NET_ADMIN) for SO_RCVBUFFORCE; CI runs as root");
        var rmemMax = int.Parse(File.ReadAllText("/proc/sys/net/core/rmem_max").Trim(), CultureInfo.InvariantCulture);
        var asked = (int)Math.Min(2L * rmemMax, 256L << 20);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);

        var granted = SocketOptionsNative.SetReceiveBuffer(socket, asked);

        Assert.True(granted >= asked, $"asked {asked} bytes past rmem_max {rmemMax}, granted {granted}");
    }
}
