namespace ShardRuntime.Tests.Shared;

/// <summary>One HTTP/1.1 response: its head (status line and headers) and its body.</summary>
internal sealed record HttpReply(string Head, string Body)
{
    public string StatusLine => Head.Split("\r\n")[0];

    /// <summary>The response as it came: head, blank line, body.</summary>
    public override string ToString() => $"{Head}\r\n\r\n{Body}";
}
