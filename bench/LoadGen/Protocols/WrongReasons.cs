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
    public const string DnsIdMismatch = "dns-id-mismatch";
    public const string DnsNotAResponse = "dns-not-a-response";
    public const string DnsOpcode = "dns-opcode-not-query";
    public const string DnsTruncated = "dns-truncated";
    public const string DnsQuestionMismatch = "dns-question-mismatch";
    public const string DnsAnswerMissing = "dns-answer-missing";
    public const string DnsMalformed = "dns-malformed";
}
