using System.Net;
using System.Net.Sockets;

namespace ShardRuntime.LoadGen.Run;

/// <summary>
/// One UDP flow: a client socket connected to the target from its own source port (the kernel drops datagrams from
/// anyone else), its buffers and the <see cref="DatagramTracker"/> of its queries. The flow owns the socket;
/// disposing it ends the flow's receive loop.
/// </summary>
internal sealed class UdpFlow : IDisposable
{
    /// <summary>
    /// Asked for; the kernel caps SO_RCVBUF at net.core.rmem_max (about 208 KiB by default, a few hundred small
    /// datagrams), so with CAP_NET_ADMIN (root) SO_RCVBUFFORCE sets it past that. Room for bursts of replies: a reply
    /// the client's own buffer dropped would count as the server's loss.
    /// </summary>
    private const int ReceiveBufferBytes = 4 << 20;

    private const int SolSocket = 1;
    private const int SoRcvbufForce = 33;

    /// <summary>Room for the largest UDP payload.</summary>
    private const int MaxDatagramBytes = 1 << 16;

    public UdpFlow(int index, IPEndPoint target, IPEndPoint? source, int maxQueryBytes)
    {
        Index = index;
        Socket = new Socket(target.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            Socket.ReceiveBufferSize = ReceiveBufferBytes;
            if (Socket.ReceiveBufferSize < ReceiveBufferBytes) ForceReceiveBuffer(Socket);
            if (source is not null)
                Socket.Bind(source);
            Socket.Connect(target);
        }
        catch
        {
            Socket.Dispose();
            throw;
        }
        Send = new byte[maxQueryBytes];
    }

    /// <summary>The flow's number in the run, from 0; it seeds the echo pattern.</summary>
    public int Index { get; }

    public Socket Socket { get; }

    /// <summary>The query being sent; only the run's dispatcher writes it.</summary>
    public byte[] Send { get; }

    /// <summary>The datagram being received; only the flow's receive loop uses it.</summary>
    public byte[] Receive { get; } = new byte[MaxDatagramBytes];

    public DatagramTracker Tracker { get; } = new();

    public void Dispose() => Socket.Dispose();

    /// <summary>SO_RCVBUFFORCE past net.core.rmem_max; without CAP_NET_ADMIN (EPERM) the capped size stays.</summary>
    private static void ForceReceiveBuffer(Socket socket)
    {
        try
        {
            socket.SetRawSocketOption(SolSocket, SoRcvbufForce, BitConverter.GetBytes(ReceiveBufferBytes));
        }
        catch (SocketException)
        {
        }
    }
}
