using System.Text;
using System.Text.RegularExpressions;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using ShardRuntime.Runtime.Handlers;

namespace ShardRuntime.Runtime.Tests.Handlers;

/// <summary>
/// Properties of the http-ok handler's parser, driven as a connection drives it (<see cref="HandlerDriver"/>): how a
/// stream is cut into reads does not change the answers, and no input makes it throw or answer anything but 200 (and
/// 100 Continue), or 400/431 and a close.
/// </summary>
public sealed partial class HttpOkHandlerProperties
{
    private const int HeadLimit = 1024;

    private static readonly Gen<string> Tokens = Gen.Elements("a", "x-y", "Host", "ü", "0", "~!#$%&'*+-.^_`|");

    private static readonly Gen<string> Field =
        from name in Gen.Elements("Host", "User-Agent", "Accept", "X-Trace", "Cookie")
        from space in Gen.Elements("", " ", "\t ")
        from separator in Gen.Elements(" ", "\t", ",")
        from words in Gen.ListOf(Tokens)
        select $"{name}:{space}{string.Join(separator, words)}\r\n";

    private static readonly Gen<string> Fields = Gen.ListOf(Field).Select(f => string.Concat(f.Take(6)));

    private static readonly Gen<string> Bodies = Gen.OneOf(
        Gen.Constant(""),
        Gen.Choose(0, 40).Select(n => $"Content-Length: {n}\r\n\r\n{new string('b', n)}"),
        from chunks in Gen.ListOf(Gen.Choose(1, 20))
        from extension in Gen.Elements("", ";a=1", " ;b")
        from trailer in Gen.Elements("", "X-Sum: 1\r\n")
        select "Transfer-Encoding: chunked\r\n\r\n"
            + string.Concat(chunks.Take(4).Select(n => $"{n:x}{extension}\r\n{new string('c', n)}\r\n")) + $"0\r\n{trailer}\r\n");

    /// <summary>One complete keep-alive request: request line, fields, and a body of some framing.</summary>
    private static readonly Gen<(string Text, bool ExpectsContinue)> Requests =
        from method in Gen.Elements("GET", "HEAD", "POST", "DELETE", "OPTIONS")
        from target in Gen.Elements("/", "/index.html", "/a/b?c=d&e", "*", "http://h/p")
        from http10 in Gen.Elements(false, false, true)
        from fields in Fields
        from expect in Gen.Elements(false, false, true)
        from anyBody in Bodies
        let body = http10 && anyBody.StartsWith("Transfer-Encoding", StringComparison.Ordinal) ? "" : anyBody // not in HTTP/1.0
        let line = $"{method} {target} HTTP/1.{(http10 ? 0 : 1)}\r\n" + fields + (http10 ? "Connection: keep-alive\r\n" : "")
        let continues = expect && !http10 && body.Length > 0 && !body.StartsWith("Content-Length: 0\r\n", StringComparison.Ordinal)
        select (line + (expect ? "Expect: 100-continue\r\n" : "") + (body.Length == 0 ? "\r\n" : body), continues);

    [Property(MaxTest = 200)]
    public Property Any_split_of_a_valid_pipelined_stream_must_give_the_same_answers_as_the_whole() =>
        Prop.ForAll(Gen.NonEmptyListOf(Requests).ToArbitrary(), Gen.ListOf(Gen.Choose(1, 50)).ToArbitrary(), (requests, cuts) =>
        {
            var stream = Encoding.UTF8.GetBytes(string.Concat(requests.Select(r => r.Text)));
            var whole = Drive(stream, [stream.Length]);
            var split = Drive(stream, cuts);

            Assert.Equal(requests.Count, Regex.Matches(whole.Context.WrittenText, "HTTP/1.1 200 OK").Count);
            Assert.Equal(requests.Count(r => r.ExpectsContinue), Regex.Matches(whole.Context.WrittenText, "HTTP/1.1 100 Continue").Count);
            Assert.Equal(WithoutDates(whole.Context.WrittenText), WithoutDates(split.Context.WrittenText));
            Assert.False(split.Context.IsClosing);
            Assert.Equal(0, split.Unconsumed);
        });

    [Property(MaxTest = 1000)]
    public Property Arbitrary_bytes_must_be_answered_with_200_or_a_refusal_and_close_or_wait_for_more() =>
        Prop.ForAll(Noise.ToArbitrary(), Gen.ListOf(Gen.Choose(1, 30)).ToArbitrary(), (bytes, cuts) =>
        {
            var driver = Drive(bytes, cuts);

            var answers = driver.Context.WrittenText.Split("HTTP/1.1 ", StringSplitOptions.RemoveEmptyEntries);
            var statuses = answers.Select(a => a[..3]).ToList();
            Assert.All(statuses, s => Assert.Contains(s, new[] { "100", "200", "400", "431" }));
            var refused = statuses.FindIndex(s => s is "400" or "431");
            if (refused >= 0)
            {
                // A refusal is the last answer and closes the connection.
                Assert.Equal(statuses.Count - 1, refused);
                Assert.Contains("Connection: close\r\n", answers[refused]);
                Assert.True(driver.Context.IsClosing);
            }
            else if (!driver.Context.IsClosing)
            {
                // Still open: waiting for the rest of a request, never for more than a head's worth of bytes.
                Assert.InRange(driver.Unconsumed, 0, HeadLimit);
            }
        });

    /// <summary>Bytes from HTTP's vocabulary, stray line ends and raw bytes.</summary>
    private static Gen<byte[]> Noise =>
        Gen.ListOf(Gen.OneOf(
                Gen.Elements("GET ", "HEAD ", "/ ", "HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "\r\n", "\n", "\r", " ", "\t", ":",
                    "Content-Length: ", "content-length:", "Transfer-Encoding: chunked", "Transfer-Encoding: gzip", ",chunked",
                    "Connection: close", "Connection: keep-alive", "Expect: 100-continue", "0", "5", "ff", ";x", "\0", "\u007f",
                    "99999999999999999999", "-1", "\r\n\r\n", "0\r\n\r\n", "X: y\r\n", "Host: a\r\n"),
                ArbMap.Default.GeneratorFor<byte>().Select(b => ((char)b).ToString())))
            .Select(parts => Encoding.Latin1.GetBytes(string.Concat(parts)));

    /// <summary>Feeds <paramref name="bytes"/> in reads of the given sizes (the rest in one read), then ends the input.</summary>
    private static HandlerDriver Drive(byte[] bytes, IEnumerable<int> reads)
    {
        var driver = new HandlerDriver(new HttpOkHandler(HeadLimit));
        var offset = 0;
        foreach (var read in reads.Append(bytes.Length))
        {
            var length = Math.Min(read, bytes.Length - offset);
            if (length == 0)
            {
                break;
            }

            driver.Receive(bytes.AsSpan(offset, length));
            offset += length;
        }

        return driver;
    }

    private static string WithoutDates(string responses) => DateField().Replace(responses, "Date: -");

    [GeneratedRegex("Date: [^\r]{29}")]
    private static partial Regex DateField();
}
