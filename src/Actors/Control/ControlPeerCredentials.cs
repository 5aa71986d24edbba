using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace ShardRuntime.Actors.Control;

/// <summary>
/// Who is on the other end of an accepted control connection (SO_PEERCRED), and who this process is (geteuid).
/// Kept inside the control folder so the control socket does not depend on the runtime's socket helpers.
/// </summary>
internal static partial class ControlPeerCredentials
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    /// <summary>The effective user id of this process: the only user the control socket serves.</summary>
    public static uint EffectiveUserId => GetEffectiveUserId();

    /// <summary>
    /// The peer's pid and effective uid as the kernel recorded them at connect() time (struct ucred).
    /// Throws <see cref="SocketException"/> when the kernel does not answer.
    /// </summary>
    public static (int ProcessId, uint UserId) Of(Socket unixDomainSocket)
    {
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; }: three 32-bit fields in host byte order.
        Span<byte> ucred = stackalloc byte[12];
        var length = unixDomainSocket.GetRawSocketOption(SolSocket, SoPeerCred, ucred);
        if (length != ucred.Length)
            throw new InvalidOperationException($"getsockopt(SO_PEERCRED) returned {length} bytes, expected {ucred.Length}");
        return (BitConverter.ToInt32(ucred[..4]), BitConverter.ToUInt32(ucred[4..8]));
    }

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserId();
}
