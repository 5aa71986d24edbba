using System.Text;

namespace ShardRuntime.Runtime.Tests.Handlers;

/// <summary>One HTTP/1.1 response read back from the bytes a handler wrote.</summary>
internal sealed record HttpResponse(int Status, string StatusLine, IReadOnlyList<(string Name, string Value)> Headers, string Body)
{
    public string? Header(string name) =>
        Headers.Where(h => string.Equals(h.Name, name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value).SingleOrDefault();

    /// <summary>
    /// Splits <paramref name="bytes"/> into responses. Responses to HEAD (positions listed in
    /// <paramref name="headResponses"/>, counting final responses only) and 1xx responses have no body;
    /// the rest carry Content-Length bytes. Fails on anything that is not well-formed.
    /// </summary>
    public static List<HttpResponse> ReadAll(ReadOnlySpan<byte> bytes, params int[] headResponses)
    {
        var text = Encoding.Latin1.GetString(bytes);
        var responses = new List<HttpResponse>();
        var finalCount = 0;
        var pos = 0;
        while (pos < text.Length)
        {
            var headEnd = text.IndexOf("\r\n\r\n", pos, StringComparison.Ordinal);
            Assert.True(headEnd >= 0, $"incomplete response head at {pos}: {text[pos..]}");
            var lines = text[pos..headEnd].Split("\r\n");
            var statusLine = lines[0];
            Assert.StartsWith("HTTP/1.1 ", statusLine);
            var status = int.Parse(statusLine.AsSpan(9, 3));
            var headers = lines.Skip(1).Select(l =>
            {
                var colon = l.IndexOf(':');
                Assert.True(colon > 0, $"bad header line '{l}'");
                return (l[..colon], l[(colon + 1)..].Trim());
            }).ToList();
            pos = headEnd + 4;

            var body = "";
            if (status >= 200)
            {
                var noBody = headResponses.Contains(finalCount);
                finalCount++;
                if (!noBody)
                {
                    var length = int.Parse(headers.Single(h => h.Item1.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)).Item2);
                    Assert.True(pos + length <= text.Length, "truncated body");
                    body = text.Substring(pos, length);
                    pos += length;
                }
            }

            responses.Add(new HttpResponse(status, statusLine, headers, body));
        }

        return responses;
    }
}
