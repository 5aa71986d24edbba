namespace ShardRuntime.LoadGen.Run;

/// <summary>What a request and its reply look like.</summary>
public enum LoadProtocol
{
    /// <summary><c>GET path HTTP/1.1</c> with a Host header; right reply: status 200 and the expected body.</summary>
    Http,

    /// <summary>A unique payload with a sequence number (UDP: and its send time); right reply: the same bytes back.</summary>
    Echo,

    /// <summary>UDP only: a DNS query (RFC 1035); right reply: same id and question, the expected RCODE and answer.</summary>
    Dns,
}
