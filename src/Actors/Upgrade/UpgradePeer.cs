using System.Net.Sockets;
using ShardRuntime.Runtime.Sockets;

namespace ShardRuntime.Actors.Upgrade;

/// <summary>
/// The checks a peer of the upgrade socket passes before an upgrade attempt starts: it runs as this node's user
/// (SO_PEERCRED), and it speaks (a peer that connects and says nothing, or closes, is a probe of whether a node serves
/// the path: it neither holds the upgrade socket nor makes the coordinator refuse changes).
/// </summary>
internal static class UpgradePeer
{
    /// <summary>Why a peer with <paramref name="credentials"/> may not take this node's sockets; null when it may.</summary>
    public static string? Refusal(PeerCredentials credentials, uint nodeUserId) =>
        credentials.UserId == nodeUserId
            ? null
            : $"permission denied: peer pid {credentials.ProcessId} runs as uid {ProcessIdentity.DescribeUser(credentials.UserId)}; " +
              $"only uid {ProcessIdentity.DescribeUser(nodeUserId)} (this node's user) may take its sockets";

    /// <summary>Whether the peer sent a first byte (left unread) within <paramref name="timeout"/>.</summary>
    public static async Task<bool> SpeaksAsync(Socket peer, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var one = new byte[1];
        try
        {
            return await peer.ReceiveAsync(one, SocketFlags.Peek, cts.Token).ConfigureAwait(false) > 0;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            return false;
        }
    }
}
