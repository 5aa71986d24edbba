using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ShardRuntime.Runtime.Sockets;
using ShardRuntime.Runtime.Sockets.Udp;

namespace ShardRuntime.Runtime.Tests.Sockets;

/// <summary>Helpers for the UDP specs: reuseport groups of datagram sockets on loopback, senders, bounded receiving.</summary>
internal static class UdpTestKit
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Binds <paramref name="count"/> UDP reuseport sockets on <paramref name="address"/> (port 0, then the port the
    /// first got). Skips the test, saying why, when the host has no IPv6 or no ::1.
    /// </summary>
    public static List<Socket> BindUdpGroup(string address, int count)
    {
        var ip = IPAddress.Parse(address);
        Skip.If(ip.AddressFamily == AddressFamily.InterNetworkV6 && !Socket.OSSupportsIPv6, "this host has no IPv6");
        var sockets = new List<Socket>();
        try
        {
            var endPoint = new IPEndPoint(ip, 0);
            for (int i = 0; i < count; i++)
            {
                sockets.Add(ReuseportSocketFactory.Instance.Bind(new ListenerSocketOptions(endPoint, TransportProtocol.Udp)));
                endPoint = (IPEndPoint)sockets[0].LocalEndPoint!;
            }

            return sockets;
        }
        catch (ListenerBindException e) when (e.Failure == BindFailure.AddressNotAvailable)
        {
            SocketTestKit.DisposeAll(sockets);
            throw new SkipException($"{address} is not configured on this host");
        }
        catch
        {
            SocketTestKit.DisposeAll(sockets);
            throw;
        }
    }

    /// <summary>A UDP socket bound to an ephemeral port of <paramref name="address"/>.</summary>
    public static Socket Sender(IPAddress address)
    {
        var sender = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        sender.Bind(new IPEndPoint(address, 0));
        return sender;
    }

    public static IPEndPoint EndPointOf(Socket socket) => (IPEndPoint)socket.LocalEndPoint!;

    /// <summary>
    /// Receives with <paramref name="batch"/> from every socket of <paramref name="members"/> until
    /// <paramref name="expected"/> datagrams arrived in all (or <see cref="Patience"/> passed), handing each to
    /// <paramref name="onDatagram"/> with the index of the member it came from. Returns how many arrived.
    /// </summary>
    public static int ReceiveUntil(
        DatagramBatch batch, IReadOnlyList<Socket> members, int expected, Action<int, ReadOnlySpan<byte>, DatagramPeer> onDatagram, TimeSpan? patience = null)
    {
        var limit = patience ?? Patience;
        int received = 0;
        var clock = Stopwatch.StartNew();
        while (received < expected && clock.Elapsed < limit)
        {
            bool any = false;
            for (int m = 0; m < members.Count; m++)
            {
                int n = batch.ReceiveFrom(members[m]);
                for (int i = 0; i < n; i++)
                {
                    onDatagram(m, batch.Payload(i), batch.Peer(i));
                }

                received += n;
                any |= n > 0;
            }

            if (!any)
            {
                // Nothing queued anywhere: wait for any member to become readable (bounded), not for a fixed time.
                var readable = members.ToList();
                Socket.Select(readable, null, null, TimeSpan.FromMilliseconds(100));
            }
        }

        return received;
    }
}
