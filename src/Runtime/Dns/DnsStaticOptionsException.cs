namespace ShardRuntime.Runtime.Dns;

/// <summary>
/// The options of a <c>dns-static</c> handler are not valid. <see cref="Key"/> names the offending option relative to
/// the handler's options block (for example <c>records."a.example.".A[0]</c>), so configuration can prefix it with
/// the listener's path; the message says what is wrong with it.
/// </summary>
public sealed class DnsStaticOptionsException : ArgumentException
{
    /// <summary>Creates the exception for <paramref name="key"/>; the message is "<paramref name="key"/>: <paramref name="reason"/>".</summary>
    public DnsStaticOptionsException(string key, string reason)
        : base($"{key}: {reason}")
    {
        Key = key;
        Reason = reason;
    }

    /// <summary>The offending option, relative to the handler's options block.</summary>
    public string Key { get; }

    /// <summary>What is wrong with it, without the key.</summary>
    public string Reason { get; }
}
