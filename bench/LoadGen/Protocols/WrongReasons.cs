namespace ShardRuntime.LoadGen.Protocols;

/// <summary>Why a reply was wrong; tallied by name in the report.</summary>
internal static class WrongReasons
{
    public const string Status = "status-not-200";
    public const string Body = "body-mismatch";
    public const string MalformedStatusLine = "malformed-status-line";
    public const string MalformedHeader = "malformed-header";
    public const string BadContentLength = "bad-content-length";
    public const string Chunked = "unsupported-transfer-encoding";
    public const string TooLarge = "reply-too-large";
    public const string EchoMismatch = "echo-mismatch";
}
