using ShardRuntime.Runtime.Sockets;

namespace ShardRuntime.Runtime.Tests.Sockets;

public sealed class ProcessIdentityTests
{
    [Fact]
    public void EffectiveUserId_must_match_the_effective_uid_in_proc_self_status()
    {
        // "Uid:\treal\teffective\tsaved\tfilesystem"
        string line = File.ReadLines("/proc/self/status").Single(l => l.StartsWith("Uid:", StringComparison.Ordinal));
        uint effective = uint.Parse(line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[2]);
        Assert.Equal(effective, ProcessIdentity.EffectiveUserId);
    }

    [Fact]
    public void User_names_must_come_from_etc_passwd_and_unknown_uids_print_as_numbers()
    {
        Assert.Equal("root", ProcessIdentity.GetUserName(0));
        Assert.Equal("0 (root)", ProcessIdentity.DescribeUser(0));
        Assert.Null(ProcessIdentity.GetUserName(4_000_000_123));
        Assert.Equal("4000000123", ProcessIdentity.DescribeUser(4_000_000_123));
    }
}
