using System.Net;
using System.Net.Sockets;
using ShardRuntime.Runtime.Sockets;
using static ShardRuntime.Runtime.Tests.Sockets.SocketTestKit;

namespace ShardRuntime.Runtime.Tests.Steering;

/// <summary>Helpers for the steering specs: open connections and see which member's queue they landed in.</summary>
internal static class SteeringTestKit
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    public static ReuseportGroup GroupOf(IEnumerable<Socket> sockets)
    {
        var group = new ReuseportGroup();
        foreach (var socket in sockets)
        {
            group.Add(socket);
        }

        return group;
    }

    /// <summary>Opens <paramref name="count"/> connections to <paramref name="endPoint"/> that nobody accepts.</summary>
    public static async Task<List<Socket>> ConnectAsync(EndPoint endPoint, int count)
    {
        var clients = new List<Socket>();
        var family = endPoint.AddressFamily;
        for (int i = 0; i < count; i++)
        {
            var client = new Socket(family, SocketType.Stream, ProtocolType.Tcp);
            clients.Add(client);
            await client.ConnectAsync(endPoint);
        }

        return clients;
    }

    /// <summary>The accept queue length of each member, once all <paramref name="expectedTotal"/> connections are queued.</summary>
    public static async Task<int[]> QueuedPerMemberAsync(IReadOnlyList<Socket> members, int expectedTotal)
    {
        Assert.True(
            await Eventually.TrueAsync(() => members.Sum(ListenerDrain.QueueLength) == expectedTotal, Patience),
            $"the members' queues never held {expectedTotal} connections: [{string.Join(", ", members.Select(ListenerDrain.QueueLength))}]");
        return members.Select(ListenerDrain.QueueLength).ToArray();
    }

    /// <summary>Accepts everything queued on every member and returns, per member, the client ports it accepted.</summary>
    public static List<HashSet<int>> AcceptAll(IReadOnlyList<Socket> members)
    {
        var ports = new List<HashSet<int>>();
        foreach (var member in members)
        {
            var accepted = new List<Socket>();
            AcceptQueued(member, accepted, int.MaxValue);
            ports.Add(accepted.Select(s => ((IPEndPoint)s.RemoteEndPoint!).Port).ToHashSet());
            DisposeAll(accepted);
        }

        return ports;
    }

    /// <summary>
    /// Accepts, without waiting, up to <paramref name="max"/> connections queued on <paramref name="listener"/> into
    /// <paramref name="into"/>; returns how many. Errors that concern one connection only (aborted, reset) are skipped.
    /// </summary>
    public static int AcceptQueued(Socket listener, List<Socket> into, int max)
    {
        int accepted = 0;
        int skipped = 0;
        while (accepted < max && skipped < max && listener.Poll(0, SelectMode.SelectRead))
        {
            try
            {
                into.Add(listener.Accept());
                accepted++;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionAborted or SocketError.ConnectionReset)
            {
                skipped++;
            }
        }

        return accepted;
    }

    public static int LocalPort(Socket client) => ((IPEndPoint)client.LocalEndPoint!).Port;
}
