using System.Runtime.InteropServices;

namespace ShardRuntime.Runtime.Sockets;

/// <summary>
/// Who this process is to the kernel. The effective user id decides which reuseport groups our sockets may join
/// and is what peers of our control and upgrade sockets are checked against.
/// </summary>
public static partial class ProcessIdentity
{
    /// <summary>The effective user id (geteuid(2)).</summary>
    public static uint EffectiveUserId => NativeGetEffectiveUserId();

    /// <summary>
    /// The name of <paramref name="userId"/> from <c>/etc/passwd</c>, or null when it has no entry there (or the
    /// file cannot be read). Users known only to NSS (LDAP, systemd DynamicUser) are not resolved.
    /// </summary>
    public static string? GetUserName(uint userId)
    {
        try
        {
            foreach (string line in File.ReadLines("/etc/passwd"))
            {
                // name:password:uid:gid:gecos:home:shell
                string[] fields = line.Split(':');
                if (fields.Length > 2 && uint.TryParse(fields[2], out uint uid) && uid == userId)
                {
                    return fields[0];
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return null;
    }

    /// <summary>A user id as messages print it: <c>65534 (nobody)</c>, or just <c>1234</c> when it has no name.</summary>
    public static string DescribeUser(uint userId) =>
        GetUserName(userId) is { } name ? $"{userId} ({name})" : userId.ToString(System.Globalization.CultureInfo.InvariantCulture);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint NativeGetEffectiveUserId();
}
